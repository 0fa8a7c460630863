// SPDX-License-Identifier: MIT
#include "mp1boot/session/digest_cache.hpp"

namespace mp1boot::session {

std::optional<std::string> DigestCache::get(const std::string& key, const Compute& compute) {
  for (;;) {
    std::promise<std::optional<std::string>> mine;
    std::shared_future<std::optional<std::string>> theirs;
    {
      std::lock_guard lock(mutex_);
      auto it = values_.find(key);
      if (it == values_.end())
        values_.emplace(key, mine.get_future().share());
      else
        theirs = it->second;
    }
    if (theirs.valid()) {
      if (auto value = theirs.get()) return value;
      continue;  // that caller stopped early or failed and dropped the key: compute it here
    }
    std::optional<std::string> value;
    try {
      value = compute();
    } catch (...) {
      // The error goes to this caller alone (an exception object is not shared between threads):
      // the waiting callers compute for themselves and meet their own.
      drop(key, mine);
      throw;
    }
    if (value) {
      {
        std::lock_guard lock(mutex_);
        ++computed_;
      }
      mine.set_value(value);
    } else {
      drop(key, mine);
    }
    return value;
  }
}

void DigestCache::drop(const std::string& key, std::promise<std::optional<std::string>>& mine) {
  {
    std::lock_guard lock(mutex_);
    values_.erase(key);
  }
  mine.set_value(std::nullopt);
}

std::size_t DigestCache::size() const {
  std::lock_guard lock(mutex_);
  return values_.size();
}

std::size_t DigestCache::computed() const {
  std::lock_guard lock(mutex_);
  return computed_;
}

}  // namespace mp1boot::session
