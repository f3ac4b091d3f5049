// The words of a connection story's client half (track::ClientSide): the
// verdict of a story only the client's host saw, the client-side sentence
// added to a both-sides verdict, and the client steps' texts. Used by
// story_words.cpp, which every explain format takes its words from.
#pragma once

#include <string>

#include "track/story.hpp"

namespace sockscope::render {

// The verdict of a client-only story (Connection::client_only).
std::string client_only_verdict(const track::Connection& c);

// " On the client side, curl's non-blocking connect() returned EINPROGRESS;
// ...": for a story with both sides, when the client's half has something
// the server's does not tell (a non-blocking connect, who the wakeup found,
// SO_ERROR); else "".
std::string client_side_sentence(const track::Connection& c);

// ClientEstablished and Getsockopt steps.
std::string client_step_text(const track::Step& s);

}  // namespace sockscope::render
