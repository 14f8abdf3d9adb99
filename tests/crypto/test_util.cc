#include "test_util.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace twinhsm::crypto::test {

namespace {

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos) {
    return {};
  }
  size_t e = s.find_last_not_of(" \t\r");
  return std::string(s.substr(b, e - b + 1));
}

// all_named_parts: every comma-separated part of a header is "NAME = VALUE".
bool all_named_parts(const std::string& inner) {
  std::istringstream parts(inner);
  for (std::string part; std::getline(parts, part, ',');) {
    if (part.find('=') == std::string::npos) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::filesystem::path vector_path(std::string_view relative) {
  return std::filesystem::path(TWINHSM_TEST_DATA) / "vectors" / relative;
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path.string());
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

nlohmann::json read_json(std::string_view relative) {
  return nlohmann::json::parse(read_text(vector_path(relative)));
}

const std::string& CavpRecord::at(const std::string& name) const {
  auto it = fields.find(name);
  if (it == fields.end()) {
    throw std::runtime_error("record at line " + std::to_string(line) + " has no field " + name);
  }
  return it->second;
}

std::vector<CavpRecord> parse_cavp(std::string_view relative, std::string_view start) {
  std::istringstream in(read_text(vector_path(relative)));
  std::vector<CavpRecord> records;
  std::map<std::string, std::string> section;
  bool in_record = false;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#' || line[0] == ' ' || line[0] == '\t') {
      continue;
    }
    std::string text = trim(line);
    if (text.empty()) {
      continue;
    }
    if (text.front() == '[' && text.back() == ']') {
      std::string inner = text.substr(1, text.size() - 2);
      size_t eq = inner.find('=');
      if (eq == std::string::npos) {
        section[trim(inner)] = "";
        section[""] = trim(inner);  // the last bare header: [ENCRYPT], [SHA-1], ...
      } else if (!all_named_parts(inner)) {
        section[trim(inner.substr(0, eq))] = trim(inner.substr(eq + 1));  // "[mod = L=1024, SHA-1]"
      } else {
        // "[Alen = 0, Plen = 0, Nlen = 7, Tlen = 4]": one header, several names.
        std::istringstream parts(inner);
        for (std::string part; std::getline(parts, part, ',');) {
          size_t e = part.find('=');
          section[trim(part.substr(0, e))] = e == std::string::npos ? "" : trim(part.substr(e + 1));
        }
      }
      in_record = false;
      continue;
    }
    if (text == "FAIL") {
      if (in_record) {
        records.back().fail = true;
      }
      continue;
    }
    size_t eq = text.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    std::string name = trim(text.substr(0, eq));
    std::string value = trim(text.substr(eq + 1));
    if (name == start) {
      records.push_back(CavpRecord{section, {}, false, number});
      in_record = true;
    }
    if (in_record) {
      records.back().fields[name] = value;
    } else {
      section[name] = value;  // a field before the section's first record (CCM's Key)
    }
  }
  return records;
}

}  // namespace twinhsm::crypto::test
