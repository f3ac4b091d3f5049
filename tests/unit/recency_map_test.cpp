// Unit tests for track::RecencyMap: the bounded map every tracker table is.
// Each test states the exact order the map must hold afterwards, least
// recently active first, and exactly what it evicted.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "track/recency_map.hpp"

using sockscope::track::RecencyMap;

namespace {

using Map = RecencyMap<int, std::string>;

template <typename M>
std::vector<typename M::key_type> keys(const M& m) {
  std::vector<typename M::key_type> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

// A map whose evictions are written down, key and value.
struct Recorded {
  explicit Recorded(std::size_t capacity)
      : map(capacity, [this](Map::value_type& e) { evicted.emplace_back(e.first, std::move(e.second)); }) {}
  std::vector<std::pair<int, std::string>> evicted;
  Map map;
};

using Evicted = std::vector<std::pair<int, std::string>>;
using Keys = std::vector<int>;

}  // namespace

TEST_CASE("eviction follows activity exactly under interleaved inserts, touches and erases", "[recency_map]") {
  Recorded r(3);
  Map& m = r.map;
  m.insert_or_assign(1, "a");
  m.insert_or_assign(2, "b");
  m.insert_or_assign(3, "c");
  CHECK(keys(m) == Keys{1, 2, 3});
  CHECK(r.evicted.empty());

  REQUIRE(m.find(1) != m.end());  // 1 is active again: 2 is now the oldest
  CHECK(keys(m) == Keys{2, 3, 1});
  m.insert_or_assign(4, "d");
  CHECK(r.evicted == Evicted{{2, "b"}});
  CHECK(keys(m) == Keys{3, 1, 4});

  CHECK(m.erase(1) == 1);  // room again: the next insert evicts nothing
  CHECK(keys(m) == Keys{3, 4});
  m.insert_or_assign(5, "e");
  CHECK(r.evicted == Evicted{{2, "b"}});
  CHECK(keys(m) == Keys{3, 4, 5});

  m.touch(m.peek(3));
  m.insert_or_assign(6, "f");
  m.insert_or_assign(7, "g");
  CHECK(r.evicted == Evicted{{2, "b"}, {4, "d"}, {5, "e"}});
  CHECK(keys(m) == Keys{3, 6, 7});
  CHECK(m.size() == 3);
  CHECK(m.capacity() == 3);
  CHECK(m.oldest()->first == 3);
  CHECK(m.oldest()->second == "c");
  CHECK_FALSE(m.contains(1));
  CHECK_FALSE(m.contains(2));
  CHECK(m.peek(4) == m.end());
  CHECK(m.find(5) == m.end());
  CHECK(m.erase(5) == 0);
}

TEST_CASE("touching protects an entry from eviction, peeking does not", "[recency_map]") {
  Recorded r(2);
  Map& m = r.map;
  m.insert_or_assign(1, "a");
  m.insert_or_assign(2, "b");

  SECTION("find marks it active") {
    REQUIRE(m.find(1)->second == "a");
    m.insert_or_assign(3, "c");
    CHECK(r.evicted == Evicted{{2, "b"}});
    CHECK(keys(m) == Keys{1, 3});
  }
  SECTION("try_emplace of a present key marks it active and keeps its value") {
    const auto [it, inserted] = m.try_emplace(1, "ignored");
    CHECK_FALSE(inserted);
    CHECK(it->second == "a");
    m.try_emplace(3, "c");
    CHECK(r.evicted == Evicted{{2, "b"}});
    CHECK(keys(m) == Keys{1, 3});
  }
  SECTION("peek and contains leave the order alone") {
    REQUIRE(m.peek(1)->second == "a");
    CHECK(m.contains(1));
    const Map& cm = m;
    REQUIRE(cm.peek(1) != cm.end());
    m.insert_or_assign(3, "c");
    CHECK(r.evicted == Evicted{{1, "a"}});
    CHECK(keys(m) == Keys{2, 3});
  }
}

TEST_CASE("re-inserting a present key assigns it, evicts nothing and makes it the newest", "[recency_map]") {
  Recorded r(3);
  Map& m = r.map;
  m.insert_or_assign(1, "a");
  m.insert_or_assign(2, "b");
  m.insert_or_assign(3, "c");
  const std::string* first = &m.peek(1)->second;

  const auto [it, inserted] = m.insert_or_assign(1, "A");
  CHECK_FALSE(inserted);
  CHECK(&it->second == first);  // the same entry, assigned in place
  CHECK(it->second == "A");
  CHECK(m.size() == 3);
  CHECK(r.evicted.empty());
  CHECK(keys(m) == Keys{2, 3, 1});

  const auto [it2, inserted2] = m.insert_or_assign(4, "d");
  CHECK(inserted2);
  CHECK(it2->first == 4);
  CHECK(r.evicted == Evicted{{2, "b"}});
  CHECK(keys(m) == Keys{3, 1, 4});
}

TEST_CASE("capacity 1 keeps only the newest, and capacity 0 is taken as 1", "[recency_map]") {
  const std::size_t cap = GENERATE(0u, 1u);
  CAPTURE(cap);
  Recorded r(cap);
  Map& m = r.map;
  CHECK(m.capacity() == 1);
  CHECK(m.empty());
  CHECK(m.oldest() == m.end());
  m.insert_or_assign(1, "a");
  m.insert_or_assign(1, "A");  // the same key: assigned, nothing evicted
  CHECK(r.evicted.empty());
  m.insert_or_assign(2, "b");
  m.try_emplace(3, "c");
  CHECK(r.evicted == Evicted{{1, "A"}, {2, "b"}});
  CHECK(keys(m) == Keys{3});
  CHECK(m.size() == 1);
  CHECK(m.erase(3) == 1);
  CHECK(m.empty());
  m.insert_or_assign(4, "d");
  CHECK(r.evicted.size() == 2);
  CHECK(keys(m) == Keys{4});
}

TEST_CASE("erasing while iterating visits every entry once and leaves the rest in order", "[recency_map]") {
  Map m(8);
  for (int k = 1; k <= 6; ++k) m.insert_or_assign(k, std::to_string(k));
  m.touch(m.peek(2));  // order: 1 3 4 5 6 2
  Keys visited;
  for (auto it = m.begin(); it != m.end();) {
    visited.push_back(it->first);
    it = it->first % 2 == 1 ? m.erase(it) : std::next(it);
  }
  CHECK(visited == Keys{1, 3, 4, 5, 6, 2});
  CHECK(keys(m) == Keys{4, 6, 2});
  CHECK(m.size() == 3);
  for (int k : {1, 3, 5}) CHECK_FALSE(m.contains(k));
  for (int k : {2, 4, 6}) CHECK(m.peek(k)->second == std::to_string(k));
}

TEST_CASE("erase_oldest_while stops at the first entry that is not stale", "[recency_map]") {
  RecencyMap<int, uint64_t> m(8);  // value: when last seen
  m.insert_or_assign(1, 10);
  m.insert_or_assign(2, 20);
  m.insert_or_assign(3, 30);
  m.insert_or_assign(4, 15);  // older than 3, but behind it: not reached
  m.insert_or_assign(1, 40);  // seen again
  const auto stale = [](const auto& e) { return e.second < 25; };
  CHECK(m.erase_oldest_while(stale) == 1);
  CHECK(keys(m) == Keys{3, 4, 1});
  CHECK(m.erase_oldest_while(stale) == 0);
  CHECK(m.erase_oldest_while([](const auto&) { return true; }) == 3);
  CHECK(m.empty());
  CHECK(m.erase_oldest_while([](const auto&) { return true; }) == 0);
}

TEST_CASE("references stay valid while other entries come, go and move", "[recency_map]") {
  Map m(4);
  std::string* a = &m.try_emplace(1, "a").first->second;
  for (int k = 2; k <= 100; ++k) {
    m.touch(m.peek(1));  // keep 1, let the rest churn
    m.insert_or_assign(k, std::to_string(k));
    if (k % 7 == 0) m.erase(k - 1);
  }
  REQUIRE(m.peek(1) != m.end());
  CHECK(&m.peek(1)->second == a);
  CHECK(*a == "a");
  CHECK(keys(m) == Keys{98, 99, 1, 100});

  Map moved = std::move(m);  // a move keeps the entries where they are
  CHECK(&moved.peek(1)->second == a);
  CHECK(keys(moved) == Keys{98, 99, 1, 100});
  moved.insert_or_assign(101, "x");
  CHECK(keys(moved) == Keys{99, 1, 100, 101});
}

TEST_CASE("keys whose hashes all collide are still told apart", "[recency_map]") {
  struct Colliding {
    std::size_t operator()(int) const { return 42; }
  };
  RecencyMap<int, int, Colliding> m(3);
  for (int k = 0; k < 5; ++k) m.insert_or_assign(k, k * 10);
  CHECK(keys(m) == Keys{2, 3, 4});
  CHECK(m.find(3)->second == 30);
  CHECK(m.erase(2) == 1);
  CHECK(m.peek(2) == m.end());
  CHECK(keys(m) == Keys{4, 3});
}

TEST_CASE("a value that only moves can be held and handed over on eviction", "[recency_map]") {
  std::vector<int> handed;
  RecencyMap<int, std::unique_ptr<int>> m(2, [&](auto& e) {
    const std::unique_ptr<int> taken = std::move(e.second);
    handed.push_back(*taken);
  });
  m.try_emplace(1, std::make_unique<int>(10));
  m.insert_or_assign(2, std::make_unique<int>(20));
  m.try_emplace(3, std::make_unique<int>(30));
  CHECK(handed == std::vector<int>{10});
  CHECK(*m.peek(3)->second == 30);
}

// The same operations on the map and on a plain vector kept in recency order
// (linear, obviously right): after every step both hold the same entries in
// the same order, and they evict the same keys.
TEST_CASE("random operations match a linear model step by step", "[recency_map]") {
  const std::size_t cap = GENERATE(1u, 2u, 5u, 16u);
  CAPTURE(cap);
  std::vector<int> evicted;
  RecencyMap<int, int> m(cap, [&](auto& e) { evicted.push_back(e.first); });
  std::vector<std::pair<int, int>> model;  // least recently active first
  std::vector<int> model_evicted;
  auto at = [&](int k) {
    return std::find_if(model.begin(), model.end(), [&](const auto& e) { return e.first == k; });
  };
  auto model_touch = [&](int k) {
    auto it = at(k);
    const auto e = *it;
    model.erase(it);
    model.push_back(e);
  };
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> key(0, static_cast<int>(cap) * 2 + 1), op(0, 5);
  for (int step = 0; step < 5000; ++step) {
    const int k = key(rng);
    const bool present = at(k) != model.end();
    switch (op(rng)) {
      case 0:
      case 1:  // insert_or_assign
        m.insert_or_assign(k, step);
        if (present) {
          at(k)->second = step;
          model_touch(k);
        } else {
          if (model.size() == cap) {
            model_evicted.push_back(model.front().first);
            model.erase(model.begin());
          }
          model.emplace_back(k, step);
        }
        break;
      case 2:  // try_emplace
        m.try_emplace(k, step);
        if (present) {
          model_touch(k);
        } else {
          if (model.size() == cap) {
            model_evicted.push_back(model.front().first);
            model.erase(model.begin());
          }
          model.emplace_back(k, step);
        }
        break;
      case 3:  // find
        REQUIRE((m.find(k) != m.end()) == present);
        if (present) model_touch(k);
        break;
      case 4:  // peek
        REQUIRE((m.peek(k) != m.end()) == present);
        if (present) REQUIRE(m.peek(k)->second == at(k)->second);
        break;
      case 5:  // erase
        REQUIRE(m.erase(k) == (present ? 1u : 0u));
        if (present) model.erase(at(k));
        break;
    }
    std::vector<std::pair<int, int>> got;
    for (const auto& [gk, gv] : m) got.emplace_back(gk, gv);
    REQUIRE(got == model);
    REQUIRE(m.size() == model.size());
    REQUIRE(evicted == model_evicted);
  }
  CHECK(!model_evicted.empty());
}
