// Loading and validating libconfig++ files. Every error reads `FILE:LINE: key: what is wrong`.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace libconfig {
class Config;
class Setting;
}  // namespace libconfig

namespace mpegcast {

/// A configuration problem; what() is `FILE:LINE: key: what is wrong` (or `FILE: what` when
/// there is no line). Programs print it and exit with status 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Exit status for a bad configuration or command line.
constexpr int kExitConfigError = 2;

/// One group of a config file, read key by key with defaults and range checks.
///
/// Each accessor marks its key as known; check_unknown() then rejects any other key in the
/// group, so a typo never passes silently. Accessors throw ConfigError for a wrong type or an
/// out-of-range value. A default-constructed section (absent group) returns every default.
class ConfigSection {
 public:
  ConfigSection() = default;
  ConfigSection(const libconfig::Setting* setting, std::string file);

  /// Integer key (int or int64 in the file) within [min, max].
  int64_t integer(const char* key, int64_t def, int64_t min, int64_t max);
  /// Number key (int or float in the file) within [min, max].
  double number(const char* key, double def, double min, double max);
  bool boolean(const char* key, bool def);
  /// String key; `max_len` bytes at most.
  std::string string(const char* key, const std::string& def, size_t max_len = 4096);
  /// String key that must be one of `choices`.
  std::string choice(const char* key, const std::string& def, std::initializer_list<const char*> choices);
  /// Same, with the choices from a table.
  std::string choice(const char* key, const std::string& def, const std::vector<std::string>& choices);
  /// Array or list of strings; empty when absent.
  std::vector<std::string> strings(const char* key);
  /// Nested group; an empty section when absent.
  ConfigSection group(const char* key);
  /// List of groups, e.g. `streams = ( { name = "a"; }, { name = "b"; } );` empty when absent.
  std::vector<ConfigSection> groups(const char* key);
  bool has(const char* key) const;

  /// Throws ConfigError naming the first key that no accessor asked for.
  void check_unknown() const;
  /// Throws ConfigError for `key` (its line when present) with `what`.
  [[noreturn]] void fail(const char* key, const std::string& what) const;

  const std::string& file() const { return file_; }
  /// Line of the group itself (0 when absent).
  int line() const;

 private:
  const libconfig::Setting* find(const char* key);
  const libconfig::Setting* setting_ = nullptr;
  std::string file_;
  std::set<std::string> known_;
};

/// An open config file. Keeps the parsed tree alive for its sections.
class ConfigFile {
 public:
  /// Parses `path`; throws ConfigError (`FILE:LINE: parse error: …`, or `FILE: cannot read`).
  explicit ConfigFile(const std::string& path);
  /// An empty configuration (all defaults), for programs started without -c.
  ConfigFile();
  /// Parses `text` (libconfig syntax) from memory, as if it had been read from a file called
  /// `name` (used in error messages and as path()). Throws ConfigError
  /// (`NAME:LINE: parse error: …`). For tests and fuzzing: no temporary file needed.
  static ConfigFile from_text(const std::string& text, const std::string& name);
  ~ConfigFile();
  ConfigFile(ConfigFile&&) noexcept;
  ConfigFile& operator=(ConfigFile&&) noexcept;

  ConfigSection root();
  const std::string& path() const { return path_; }

 private:
  std::unique_ptr<libconfig::Config> config_;
  std::string path_;
};

}  // namespace mpegcast
