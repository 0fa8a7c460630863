// SPDX-License-Identifier: MIT
// The spellings of the vocabulary enums: one table per enum, read both ways.
#include "mp1boot/vocabulary.hpp"

#include <array>
#include <ostream>
#include <utility>

namespace mp1boot {
namespace {

template <class E, std::size_t N>
using Table = std::array<std::pair<E, std::string_view>, N>;

constexpr Table<Link, 3> links{{{Link::unknown, ""}, {Link::uart, "uart"}, {Link::usb, "usb"}}};
constexpr Table<Stage, 4> stages{
    {{Stage::unknown, "unknown"}, {Stage::rom, "rom"}, {Stage::tfa, "tf-a"}, {Stage::uboot, "u-boot"}}};
constexpr Table<PartitionResult, 4> partition_results{{{PartitionResult::ok, "ok"},
                                                       {PartitionResult::failed, "failed"},
                                                       {PartitionResult::skipped, "skipped"},
                                                       {PartitionResult::skipped_done_earlier, "skipped-done-earlier"}}};
constexpr Table<VerifyResult, 3> verify_results{
    {{VerifyResult::not_read, ""}, {VerifyResult::ok, "ok"}, {VerifyResult::mismatch, "mismatch"}}};
constexpr Table<FlashResult, 2> flash_results{{{FlashResult::ok, "ok"}, {FlashResult::failed, "failed"}}};
constexpr Table<FlashStep, 9> flash_steps{{{FlashStep::none, ""},
                                           {FlashStep::check, "check"},
                                           {FlashStep::fsbl, "fsbl"},
                                           {FlashStep::fip, "fip"},
                                           {FlashStep::layout, "layout"},
                                           {FlashStep::partitions, "partitions"},
                                           {FlashStep::verify, "verify"},
                                           {FlashStep::done, "done"},
                                           {FlashStep::failed, "failed"}}};

template <class E, std::size_t N>
std::string_view spell(const Table<E, N>& table, E v) {
  for (const auto& [value, text] : table)
    if (value == v) return text;
  return "?";  // not reached: every enumerator has a row (the round-trip test checks it)
}

template <class E, std::size_t N>
std::optional<E> read(const Table<E, N>& table, std::string_view text) {
  for (const auto& [value, spelling] : table)
    if (spelling == text) return value;
  return std::nullopt;
}

template <class E, std::size_t N>
std::string list(const Table<E, N>& table) {
  std::string out;
  for (const auto& [value, text] : table) out += (out.empty() ? "\"" : ", \"") + std::string(text) + "\"";
  return out;
}

}  // namespace

std::string_view to_string(Link v) { return spell(links, v); }
std::string_view to_string(Stage v) { return spell(stages, v); }
std::string_view to_string(PartitionResult v) { return spell(partition_results, v); }
std::string_view to_string(VerifyResult v) { return spell(verify_results, v); }
std::string_view to_string(FlashResult v) { return spell(flash_results, v); }
std::string_view to_string(FlashStep v) { return spell(flash_steps, v); }

template <>
std::optional<Link> from_string<Link>(std::string_view text) { return read(links, text); }
template <>
std::optional<Stage> from_string<Stage>(std::string_view text) { return read(stages, text); }
template <>
std::optional<PartitionResult> from_string<PartitionResult>(std::string_view text) {
  return read(partition_results, text);
}
template <>
std::optional<VerifyResult> from_string<VerifyResult>(std::string_view text) { return read(verify_results, text); }
template <>
std::optional<FlashResult> from_string<FlashResult>(std::string_view text) { return read(flash_results, text); }
template <>
std::optional<FlashStep> from_string<FlashStep>(std::string_view text) { return read(flash_steps, text); }

template <>
std::string allowed_values<Link>() { return list(links); }
template <>
std::string allowed_values<Stage>() { return list(stages); }
template <>
std::string allowed_values<PartitionResult>() { return list(partition_results); }
template <>
std::string allowed_values<VerifyResult>() { return list(verify_results); }
template <>
std::string allowed_values<FlashResult>() { return list(flash_results); }
template <>
std::string allowed_values<FlashStep>() { return list(flash_steps); }

std::ostream& operator<<(std::ostream& os, Link v) { return os << to_string(v); }
std::ostream& operator<<(std::ostream& os, Stage v) { return os << to_string(v); }
std::ostream& operator<<(std::ostream& os, PartitionResult v) { return os << to_string(v); }
std::ostream& operator<<(std::ostream& os, VerifyResult v) { return os << to_string(v); }
std::ostream& operator<<(std::ostream& os, FlashResult v) { return os << to_string(v); }
std::ostream& operator<<(std::ostream& os, FlashStep v) { return os << to_string(v); }

}  // namespace mp1boot
