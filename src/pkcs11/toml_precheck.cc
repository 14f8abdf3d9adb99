#include "pkcs11/toml_precheck.h"

#include <vector>

#include "common/error.h"

namespace twinhsm::pkcs11 {
namespace {

bool starts_key(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '"' || c == '\'';
}

bool is_ascii(char c) {
  return static_cast<unsigned char>(c) < 0x80;
}

// Follows the structure of the text just far enough to know where strings and comments are, as
// toml++ will: a quote opens a string only where a key or a value starts (inside a bare value,
// as in 1'x', toml++ reads it as part of that value).
class Prechecker {
 public:
  Prechecker(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  void run() {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") {
      pos_ = 3;  // a UTF-8 byte order mark, which toml++ skips
    }
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\n') {
        new_line();
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '#') {
        skip_comment();
      } else if ((c == '"' || c == '\'') && expect_item_) {
        line_started_ = true;
        skip_string(c);
        expect_item_ = false;
      } else if (!is_ascii(c)) {
        fail("a non-ASCII character outside a string or comment");
      } else {
        bool at_line_start = !line_started_;
        line_started_ = true;
        if (!in_value_ && open_.empty()) {
          top_level(c, at_line_start);
        } else {
          in_value(c);
        }
        ++pos_;
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw UsageError(source_ + ":" + std::to_string(line_) + ": " + what);
  }

  void new_line() {
    ++line_;
    line_started_ = false;
    if (open_.empty()) {  // a statement ends (an array may go on over lines)
      in_value_ = false;
      in_key_ = true;
      expect_item_ = true;
    }
  }

  // A key, or a table header, at the top level.
  void top_level(char c, bool at_line_start) {
    if (c == '[') {
      if (at_line_start) {
        table_header();
      }
      expect_item_ = true;
    } else if (c == '=') {
      in_value_ = true;
      in_key_ = false;
      expect_item_ = true;
    } else {
      expect_item_ = c == '.';
    }
  }

  // After a key's '=': arrays and inline tables may nest.
  void in_value(char c) {
    const char open = open_.empty() ? 0 : open_.back();
    if ((c == '[' || c == '{') && expect_item_) {
      open_.push_back(c);
      in_key_ = c == '{';
      expect_item_ = true;
    } else if ((c == ']' && open == '[') || (c == '}' && open == '{')) {
      open_.pop_back();
      in_key_ = false;
      expect_item_ = false;
    } else if (c == ',' && open != 0) {
      in_key_ = open == '{';
      expect_item_ = true;
    } else if (c == '=' && open == '{' && in_key_) {
      in_key_ = false;
      expect_item_ = true;
    } else {
      expect_item_ = c == '.' && in_key_;
    }
  }

  // At the '[' that opens a table header: after '[' or '[[' and spaces, a key must start.
  void table_header() {
    size_t at = pos_ + 1;
    if (at < text_.size() && text_[at] == '[') {
      ++at;
    }
    while (at < text_.size() && (text_[at] == ' ' || text_[at] == '\t')) {
      ++at;
    }
    if (at >= text_.size() || !(starts_key(text_[at]) || text_[at] == ']')) {
      fail("a table header needs a key after '['");
    }
  }

  void skip_comment() {
    while (pos_ < text_.size() && text_[pos_] != '\n') {
      ++pos_;
    }
  }

  // From an opening quote: to just past the closing one (or the end of the line or text for an
  // unterminated string, which toml++ then reports). Multi-line strings must be ASCII.
  void skip_string(char quote) {
    const bool multi_line = text_.substr(pos_, 3) == std::string(3, quote);
    pos_ += multi_line ? 3 : 1;
    const bool escapes = quote == '"';
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (multi_line && text_.substr(pos_, 3) == std::string(3, quote)) {
        pos_ += 3;
        while (pos_ < text_.size() && text_[pos_] == quote) {
          ++pos_;  // up to two quotes may end the content: """a"""""
        }
        return;
      }
      if (!multi_line && c == quote) {
        ++pos_;
        return;
      }
      if (c == '\n') {
        if (!multi_line) {
          return;
        }
        ++line_;
      } else if (multi_line && !is_ascii(c)) {
        fail("a non-ASCII character in a multi-line string");
      }
      if (escapes && c == '\\' && pos_ + 1 < text_.size() && text_[pos_ + 1] != '\n') {
        ++pos_;  // the escaped character: checked here, never taken for the closing quote
        if (multi_line && !is_ascii(text_[pos_])) {
          fail("a non-ASCII character in a multi-line string");
        }
      }
      ++pos_;
    }
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
  size_t line_ = 1;
  std::vector<char> open_;   // the '[' and '{' open inside a value
  bool in_value_ = false;    // after a top-level key's '=', until its line ends outside brackets
  bool in_key_ = true;       // reading a key (top level, or in an inline table before its '=')
  bool expect_item_ = true;  // the next token starts a key or a value
  bool line_started_ = false;
};

}  // namespace

void precheck_toml(std::string_view text, const std::string& source) {
  Prechecker(text, source).run();
}

void toml_precondition_broken(const char* expression) {
  throw TomlPreconditionBroken(expression);
}

}  // namespace twinhsm::pkcs11
