#include "config_file.h"

#include <libconfig.h++>

#include <cmath>
#include <sstream>

namespace mpegcast {
namespace {

std::string where(const std::string& file, const libconfig::Setting* s) {
  std::ostringstream o;
  o << file;
  if (s && s->getSourceLine() > 0) o << ':' << s->getSourceLine();
  return o.str();
}

std::string key_path(const libconfig::Setting* parent, const char* key) {
  if (!parent || parent->isRoot()) return key;
  return parent->getPath() + "." + key;
}

const char* type_name(libconfig::Setting::Type t) {
  switch (t) {
    case libconfig::Setting::TypeInt:
    case libconfig::Setting::TypeInt64: return "an integer";
    case libconfig::Setting::TypeFloat: return "a number";
    case libconfig::Setting::TypeString: return "a string";
    case libconfig::Setting::TypeBoolean: return "a boolean";
    case libconfig::Setting::TypeGroup: return "a group { … }";
    case libconfig::Setting::TypeArray: return "an array [ … ]";
    case libconfig::Setting::TypeList: return "a list ( … )";
    default: return "nothing";
  }
}

// The ConfigError for a libconfig parse error in file `name`.
[[noreturn]] void parse_failed(const std::string& name, const libconfig::ParseException& e) {
  throw ConfigError(name + ":" + std::to_string(e.getLine()) + ": parse error: " + e.getError());
}

}  // namespace

ConfigSection::ConfigSection(const libconfig::Setting* setting, std::string file)
    : setting_(setting), file_(std::move(file)) {}

int ConfigSection::line() const { return setting_ ? static_cast<int>(setting_->getSourceLine()) : 0; }

bool ConfigSection::has(const char* key) const { return setting_ && setting_->exists(key); }

const libconfig::Setting* ConfigSection::find(const char* key) {
  known_.insert(key);
  if (!setting_ || !setting_->exists(key)) return nullptr;
  return &(*setting_)[key];
}

void ConfigSection::fail(const char* key, const std::string& what) const {
  const libconfig::Setting* s = (setting_ && setting_->exists(key)) ? &(*setting_)[key] : setting_;
  throw ConfigError(where(file_, s) + ": " + key_path(setting_, key) + ": " + what);
}

int64_t ConfigSection::integer(const char* key, int64_t def, int64_t min, int64_t max) {
  const libconfig::Setting* s = find(key);
  if (!s) return def;
  if (s->getType() != libconfig::Setting::TypeInt && s->getType() != libconfig::Setting::TypeInt64) {
    fail(key, std::string("expected an integer, found ") + type_name(s->getType()));
  }
  // libconfig++ 1.5 converts TypeInt to long long only with auto-convert on: read each type as itself.
  const int64_t v = s->getType() == libconfig::Setting::TypeInt64 ? static_cast<int64_t>(static_cast<long long>(*s))
                                                                   : static_cast<int64_t>(static_cast<int>(*s));
  if (v < min || v > max) {
    fail(key, "value " + std::to_string(v) + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return v;
}

double ConfigSection::number(const char* key, double def, double min, double max) {
  const libconfig::Setting* s = find(key);
  if (!s) return def;
  double v = 0;
  if (s->getType() == libconfig::Setting::TypeFloat) {
    v = static_cast<double>(*s);
  } else if (s->getType() == libconfig::Setting::TypeInt || s->getType() == libconfig::Setting::TypeInt64) {
    v = s->getType() == libconfig::Setting::TypeInt64 ? static_cast<double>(static_cast<long long>(*s))
                                                      : static_cast<double>(static_cast<int>(*s));
  } else {
    fail(key, std::string("expected a number, found ") + type_name(s->getType()));
  }
  if (!std::isfinite(v) || v < min || v > max) {
    std::ostringstream o;
    o << "value " << v << " is out of range [" << min << ", " << max << "]";
    fail(key, o.str());
  }
  return v;
}

bool ConfigSection::boolean(const char* key, bool def) {
  const libconfig::Setting* s = find(key);
  if (!s) return def;
  if (s->getType() != libconfig::Setting::TypeBoolean) {
    fail(key, std::string("expected true or false, found ") + type_name(s->getType()));
  }
  return static_cast<bool>(*s);
}

std::string ConfigSection::string(const char* key, const std::string& def, size_t max_len) {
  const libconfig::Setting* s = find(key);
  if (!s) return def;
  if (s->getType() != libconfig::Setting::TypeString) {
    fail(key, std::string("expected a string, found ") + type_name(s->getType()));
  }
  std::string v = static_cast<const char*>(*s);
  if (v.size() > max_len) fail(key, "longer than " + std::to_string(max_len) + " bytes");
  return v;
}

std::string ConfigSection::choice(const char* key, const std::string& def, std::initializer_list<const char*> choices) {
  std::string v = string(key, def);
  std::string list;
  for (const char* c : choices) {
    if (v == c) return v;
    list += list.empty() ? "" : ", ";
    list += std::string("\"") + c + "\"";
  }
  fail(key, "\"" + v + "\" is not one of " + list);
}

std::string ConfigSection::choice(const char* key, const std::string& def, const std::vector<std::string>& choices) {
  std::string v = string(key, def);
  std::string list;
  for (const std::string& c : choices) {
    if (v == c) return v;
    list += list.empty() ? "" : ", ";
    list += "\"" + c + "\"";
  }
  fail(key, "\"" + v + "\" is not one of " + list);
}

std::vector<std::string> ConfigSection::strings(const char* key) {
  std::vector<std::string> out;
  const libconfig::Setting* s = find(key);
  if (!s) return out;
  if (s->getType() == libconfig::Setting::TypeString) {  // a single string is a list of one
    out.emplace_back(static_cast<const char*>(*s));
    return out;
  }
  if (s->getType() != libconfig::Setting::TypeArray && s->getType() != libconfig::Setting::TypeList) {
    fail(key, std::string("expected a list of strings, found ") + type_name(s->getType()));
  }
  for (int i = 0; i < s->getLength(); ++i) {
    const libconfig::Setting& e = (*s)[i];
    if (e.getType() != libconfig::Setting::TypeString) {
      throw ConfigError(where(file_, &e) + ": " + e.getPath() + ": expected a string, found " + type_name(e.getType()));
    }
    out.emplace_back(static_cast<const char*>(e));
  }
  return out;
}

ConfigSection ConfigSection::group(const char* key) {
  const libconfig::Setting* s = find(key);
  if (!s) return ConfigSection(nullptr, file_);
  if (s->getType() != libconfig::Setting::TypeGroup) {
    fail(key, std::string("expected a group { … }, found ") + type_name(s->getType()));
  }
  return ConfigSection(s, file_);
}

std::vector<ConfigSection> ConfigSection::groups(const char* key) {
  std::vector<ConfigSection> out;
  const libconfig::Setting* s = find(key);
  if (!s) return out;
  if (s->getType() != libconfig::Setting::TypeList) {
    fail(key, std::string("expected a list ( { … }, … ), found ") + type_name(s->getType()));
  }
  for (int i = 0; i < s->getLength(); ++i) {
    const libconfig::Setting& e = (*s)[i];
    if (e.getType() != libconfig::Setting::TypeGroup) {
      throw ConfigError(where(file_, &e) + ": " + e.getPath() + ": expected a group { … }, found " + type_name(e.getType()));
    }
    out.emplace_back(&e, file_);
  }
  return out;
}

void ConfigSection::check_unknown() const {
  if (!setting_) return;
  for (int i = 0; i < setting_->getLength(); ++i) {
    const libconfig::Setting& e = (*setting_)[i];
    const char* name = e.getName();
    if (name && known_.count(name) == 0) {
      throw ConfigError(where(file_, &e) + ": " + e.getPath() + ": unknown key");
    }
  }
}

ConfigFile::ConfigFile() : config_(std::make_unique<libconfig::Config>()), path_("(defaults)") {}

ConfigFile::ConfigFile(const std::string& path) : config_(std::make_unique<libconfig::Config>()), path_(path) {
  try {
    config_->readFile(path.c_str());
  } catch (const libconfig::FileIOException&) {
    throw ConfigError(path + ": cannot read the file");
  } catch (const libconfig::ParseException& e) {
    parse_failed(path, e);
  }
}

ConfigFile ConfigFile::from_text(const std::string& text, const std::string& name) {
  ConfigFile f;
  f.path_ = name;
  try {
    f.config_->readString(text);
  } catch (const libconfig::ParseException& e) {
    parse_failed(name, e);
  }
  return f;
}

ConfigFile::~ConfigFile() = default;
ConfigFile::ConfigFile(ConfigFile&&) noexcept = default;
ConfigFile& ConfigFile::operator=(ConfigFile&&) noexcept = default;

ConfigSection ConfigFile::root() { return ConfigSection(&config_->getRoot(), path_); }

}  // namespace mpegcast
