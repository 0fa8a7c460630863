// SPDX-License-Identifier: MIT
// Golden transcript reader (format in transcript.hpp).
#include "support/transcript.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace mp1boot::test {

namespace {

std::string trim(std::string s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error(path.string() + ": cannot read transcript");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(f, line)) lines.push_back(line);
  return lines;
}

}  // namespace

std::vector<TranscriptStep> load_transcript(const std::filesystem::path& path) {
  std::vector<TranscriptStep> steps;
  auto lines = read_lines(path);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    int number = static_cast<int>(i + 1);
    auto where = [&] { return path.string() + ":" + std::to_string(number) + ": "; };
    std::string text = trim(lines[i]);
    if (text.empty() || text[0] == '#') continue;
    if (text[0] != '>' && text[0] != '<')
      throw std::runtime_error(where() + "expected '>', '<', '#' or a blank line");
    TranscriptStep step;
    step.host_to_device = text[0] == '>';
    step.line = number;
    std::string body = text.substr(1);
    auto hash = body.find('#');
    if (hash != std::string::npos) {
      step.comment = trim(body.substr(hash + 1));
      body = body.substr(0, hash);
    }
    try {
      step.bytes = from_hex(body);
    } catch (const std::exception& e) {
      throw std::runtime_error(where() + "bad hex: " + e.what());
    }
    if (step.bytes.empty()) throw std::runtime_error(where() + "no bytes");
    steps.push_back(std::move(step));
  }
  return steps;
}

std::map<std::string, std::string> transcript_board(const std::filesystem::path& path) {
  std::map<std::string, std::string> settings;
  for (const auto& raw : read_lines(path)) {
    std::string text = trim(raw);
    if (text.rfind('#', 0) != 0) continue;
    text = trim(text.substr(1));
    if (text.rfind("board:", 0) != 0) continue;
    std::istringstream words(text.substr(6));
    std::string word;
    while (words >> word) {
      auto eq = word.find('=');
      if (eq == std::string::npos || eq == 0)
        throw std::runtime_error(path.string() + ": bad board setting '" + word + "'");
      settings[word.substr(0, eq)] = word.substr(eq + 1);
    }
  }
  return settings;
}

}  // namespace mp1boot::test
