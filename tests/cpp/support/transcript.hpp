// SPDX-License-Identifier: MIT
// Reader of golden byte transcripts (tests/data/transcripts/*.txt), a format shared with the
// Python tests:
//   # comment line
//   # board: soc=stm32mp135 stage=rom      (settings for the replaying test, see transcript_board)
//   > 7f            # host to device (hex bytes, comment after '#')
//   < 79            # device to host
// Blank lines are ignored. Hex bytes may be written "31 ce" or "31ce".
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "mp1boot/bytes.hpp"

namespace mp1boot::test {

struct TranscriptStep {
  bool host_to_device = true;  ///< '>' line; false for '<'
  Bytes bytes;
  std::string comment;         ///< text after '#', trimmed ("" when none)
  int line = 0;                ///< 1-based line number in the file
};

/// Parses a transcript. @throws std::runtime_error "<path>:<line>: ..." for a line that is
/// neither blank, comment, '>' nor '<', for bad hex, or for a '>'/'<' line without bytes;
/// also when the file cannot be read.
std::vector<TranscriptStep> load_transcript(const std::filesystem::path& path);

/// The key=value pairs of every "# board: k=v k=v" comment line of a transcript (later lines
/// override earlier ones). Empty map when there are none.
std::map<std::string, std::string> transcript_board(const std::filesystem::path& path);

}  // namespace mp1boot::test
