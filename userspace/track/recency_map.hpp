// A bounded map that remembers which entry was active last: at capacity, a
// new key evicts the least recently active entry. Every table of the tracker
// is one, so that a flood fills them without growing them, and what a flood
// pushes out is what it made stale, not whatever sorts first.
//
// Hand-written because no Debian package offers one: a std::list holds the
// entries in recency order (least recently active first), and a hash set of
// list iterators, looked up by key (heterogeneous lookup), finds them. Each
// key is stored once, in its list node. Insert, find, touch, erase and
// eviction are O(1); iterators and references stay valid until their entry
// is erased, whatever else is inserted, touched or erased.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <iterator>
#include <list>
#include <tuple>
#include <unordered_set>
#include <utility>

namespace sockscope::track {

template <typename K, typename V, typename Hash = std::hash<K>, typename KeyEqual = std::equal_to<K>>
class RecencyMap {
 public:
  using key_type = K;
  using mapped_type = V;
  using value_type = std::pair<const K, V>;
  using iterator = typename std::list<value_type>::iterator;
  using const_iterator = typename std::list<value_type>::const_iterator;
  // Sees the least recently active entry just before a new key pushes it
  // out; it may move from the value, and must not change the map.
  using EvictHandler = std::function<void(value_type&)>;

  // A capacity of 0 is taken as 1: a new key always finds room.
  explicit RecencyMap(std::size_t capacity, EvictHandler on_evict = {}, const Hash& hash = Hash(),
                      const KeyEqual& equal = KeyEqual())
      : capacity_(std::max<std::size_t>(capacity, 1)),
        on_evict_(std::move(on_evict)),
        index_(0, IndexHash{hash}, IndexEqual{equal}) {}
  // The index holds iterators into this very list: a copy would point into
  // the original. Moves keep list iterators valid.
  RecencyMap(const RecencyMap&) = delete;
  RecencyMap& operator=(const RecencyMap&) = delete;
  RecencyMap(RecencyMap&&) = default;
  RecencyMap& operator=(RecencyMap&&) = default;

  std::size_t size() const noexcept { return order_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return order_.empty(); }

  // Least recently active first. Erasing the current entry while iterating
  // is safe (erase returns the next one); touching it moves it to the end,
  // where the loop would meet it again.
  iterator begin() noexcept { return order_.begin(); }
  iterator end() noexcept { return order_.end(); }
  const_iterator begin() const noexcept { return order_.begin(); }
  const_iterator end() const noexcept { return order_.end(); }
  // The entry the next new key would evict (end() when empty).
  iterator oldest() noexcept { return order_.begin(); }
  const_iterator oldest() const noexcept { return order_.begin(); }

  // Finds k and marks it the most recently active.
  iterator find(const K& k) {
    const iterator it = peek(k);
    if (it != end()) touch(it);
    return it;
  }
  // Finds k and leaves the order as it is.
  iterator peek(const K& k) {
    const auto at = index_.find(k);
    return at == index_.end() ? end() : *at;
  }
  const_iterator peek(const K& k) const {
    const auto at = index_.find(k);
    return at == index_.end() ? end() : const_iterator(*at);
  }
  bool contains(const K& k) const { return index_.find(k) != index_.end(); }

  // Marks the entry the most recently active.
  void touch(const_iterator it) noexcept { order_.splice(order_.end(), order_, it); }

  // Inserts k with V(args...) unless it is there; either way k becomes the
  // most recently active. Returns the entry and whether it is new.
  template <typename... Args>
  std::pair<iterator, bool> try_emplace(const K& k, Args&&... args) {
    if (const iterator it = find(k); it != end()) return {it, false};
    make_room();
    order_.emplace_back(std::piecewise_construct, std::forward_as_tuple(k),
                        std::forward_as_tuple(std::forward<Args>(args)...));
    return {index_new(), true};
  }
  // Inserts k or assigns to it; either way k becomes the most recently active.
  template <typename M>
  std::pair<iterator, bool> insert_or_assign(const K& k, M&& v) {
    if (const iterator it = find(k); it != end()) {
      it->second = std::forward<M>(v);
      return {it, false};
    }
    make_room();
    order_.emplace_back(k, std::forward<M>(v));
    return {index_new(), true};
  }

  // Returns the entry after it, in recency order.
  iterator erase(const_iterator it) {
    index_.erase(index_.find(it->first));
    return order_.erase(it);
  }
  std::size_t erase(const K& k) {
    const auto at = index_.find(k);
    if (at == index_.end()) return 0;
    const iterator it = *at;
    index_.erase(at);
    order_.erase(it);
    return 1;
  }
  // Erases from the least recently active end while stale(entry) holds:
  // where activity and age go together, this expires the old entries
  // without visiting the rest. Returns how many went.
  template <typename Pred>
  std::size_t erase_oldest_while(Pred stale) {
    std::size_t n = 0;
    while (!empty() && stale(std::as_const(*order_.begin()))) {
      erase(order_.begin());
      ++n;
    }
    return n;
  }
  void clear() noexcept {
    index_.clear();
    order_.clear();
  }

 private:
  // The index hashes and compares an entry by its key, and is searched by a
  // bare key without building an entry.
  struct IndexHash {
    using is_transparent = void;
    Hash hash;
    std::size_t operator()(const K& k) const { return hash(k); }
    std::size_t operator()(const iterator& it) const { return hash(it->first); }
  };
  struct IndexEqual {
    using is_transparent = void;
    KeyEqual equal;
    static const K& key_of(const K& k) noexcept { return k; }
    static const K& key_of(const iterator& it) noexcept { return it->first; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return equal(key_of(a), key_of(b));
    }
  };

  void make_room() {
    if (order_.size() < capacity_) return;
    if (on_evict_) on_evict_(order_.front());
    erase(order_.begin());
  }
  // Indexes the entry just appended; without the index it must not stay.
  iterator index_new() {
    const iterator it = std::prev(order_.end());
    try {
      index_.insert(it);
    } catch (...) {
      order_.pop_back();
      throw;
    }
    return it;
  }

  std::size_t capacity_;
  EvictHandler on_evict_;
  std::list<value_type> order_;
  std::unordered_set<iterator, IndexHash, IndexEqual> index_;
};

}  // namespace sockscope::track
