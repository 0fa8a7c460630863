// SPDX-License-Identifier: MIT
// TemporaryBuffer: the argument type that APIs keeping a view of the caller's bytes refuse.
#pragma once
#include <ranges>
#include <type_traits>

namespace mp1boot {

/// A buffer that dies at the end of the caller's expression: an rvalue container that owns its
/// bytes (a temporary Bytes, std::string, std::array). APIs that keep a ByteView after they
/// return declare a deleted overload for it, so `engine.download(make_bytes())` does not compile
/// instead of reading freed memory later (a span, a string_view or an lvalue stays accepted).
template <class C>
concept TemporaryBuffer = !std::is_lvalue_reference_v<C> && std::ranges::contiguous_range<C> &&
                          !std::ranges::borrowed_range<C>;

}  // namespace mp1boot
