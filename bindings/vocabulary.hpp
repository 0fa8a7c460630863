// SPDX-License-Identifier: MIT
// The vocabulary enums (mp1boot/vocabulary.hpp) cross into Python as the members of the enums of
// mp1boot.vocabulary (str enums: equal to, printed and json.dumps'ed as the same strings), and are
// read back from any str spelled as to_string() spells it. Include this wherever such a value is
// returned, so every translation unit sees the same caster.
#pragma once
#include <pybind11/pybind11.h>

#include <string>

#include "mp1boot/vocabulary.hpp"

namespace mp1boot::py_bindings {

template <class E>
constexpr const char* python_enum_name();
template <>
constexpr const char* python_enum_name<Link>() { return "Link"; }
template <>
constexpr const char* python_enum_name<Stage>() { return "Stage"; }
template <>
constexpr const char* python_enum_name<PartitionResult>() { return "PartitionResult"; }
template <>
constexpr const char* python_enum_name<VerifyResult>() { return "VerifyResult"; }
template <>
constexpr const char* python_enum_name<FlashResult>() { return "FlashResult"; }
template <>
constexpr const char* python_enum_name<FlashStep>() { return "FlashStep"; }

/// The mp1boot.vocabulary member of `v`.
template <class E>
pybind11::object to_python_enum(E v) {
  return pybind11::module_::import("mp1boot.vocabulary")
      .attr(python_enum_name<E>())(pybind11::str(std::string(to_string(v))));
}

}  // namespace mp1boot::py_bindings

namespace pybind11::detail {

template <class E>
struct vocabulary_caster {
  PYBIND11_TYPE_CASTER(E, const_name("str"));
  bool load(handle src, bool) {
    if (!src || !PyUnicode_Check(src.ptr())) return false;  // str and the str enums
    Py_ssize_t size = 0;
    const char* text = PyUnicode_AsUTF8AndSize(src.ptr(), &size);
    if (!text) {
      PyErr_Clear();
      return false;
    }
    const auto v = mp1boot::from_string<E>(std::string_view(text, static_cast<std::size_t>(size)));
    if (!v) return false;
    value = *v;
    return true;
  }
  static handle cast(E v, return_value_policy, handle) { return mp1boot::py_bindings::to_python_enum(v).release(); }
};

template <>
struct type_caster<mp1boot::Link> : vocabulary_caster<mp1boot::Link> {};
template <>
struct type_caster<mp1boot::Stage> : vocabulary_caster<mp1boot::Stage> {};
template <>
struct type_caster<mp1boot::PartitionResult> : vocabulary_caster<mp1boot::PartitionResult> {};
template <>
struct type_caster<mp1boot::VerifyResult> : vocabulary_caster<mp1boot::VerifyResult> {};
template <>
struct type_caster<mp1boot::FlashResult> : vocabulary_caster<mp1boot::FlashResult> {};
template <>
struct type_caster<mp1boot::FlashStep> : vocabulary_caster<mp1boot::FlashStep> {};

}  // namespace pybind11::detail
