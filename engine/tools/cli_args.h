// Command-line parsing for the `sextant` tool: a hand-rolled parser for
// `sextant [--db DIR] COMMAND [ARGS...] [--flag value | --flag=value ...]`.
//
// Flags may appear anywhere after the program name (before or after the command). A flag that
// takes a value consumes the next token even when it starts with '-' (so `--vector -0.5,1`
// works). `--` ends flag parsing: every later token is an argument. A token that starts with '-'
// followed by a digit ("-3") is an argument, not a flag.
#ifndef SEXTANT_TOOLS_CLI_ARGS_H_
#define SEXTANT_TOOLS_CLI_ARGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sextant::cli {

// Process exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // the engine or the file system said no
inline constexpr int kExitUsage = 2;  // the command line is wrong

// A flag the tool knows: its long name (without "--"), an optional one-letter alias and whether
// it takes a value.
struct FlagSpec {
  std::string_view name;
  char short_name;  // '\0' for none
  bool takes_value;
};

// Every flag of every command. Which command accepts which is checked by the caller.
std::span<const FlagSpec> AllFlags();

// The result of parsing: the command, its arguments and the flags, by long name.
struct Args {
  std::string command;                       // empty when none was given
  std::vector<std::string> positional;       // the arguments after the command
  std::map<std::string, std::string> flags;  // long name -> value ("" for a boolean flag)
  // Every value of every flag, in command-line order (for flags that may be repeated, such as
  // --payload-index). `flags` keeps the last one.
  std::map<std::string, std::vector<std::string>> all_values;

  bool Has(std::string_view name) const { return flags.count(std::string(name)) != 0; }
  // The flag's value (the last one when it was given more than once), or nullopt when absent.
  std::optional<std::string> Get(std::string_view name) const;
  // Every value the flag was given, in order; empty when absent.
  std::vector<std::string> GetAll(std::string_view name) const;
};

// Parses argv[1..argc). On a malformed command line returns nullopt and sets *error to a
// one-line message (unknown flag, missing value, a value given to a boolean flag).
std::optional<Args> ParseArgs(int argc, const char* const* argv, std::string* error);

// Parses a decimal integer in [min, max]. nullopt on anything else (sign, spaces, overflow).
std::optional<uint64_t> ParseUint(std::string_view text, uint64_t min, uint64_t max);

// Parses a vector given on the command line: numbers separated by commas and/or white space
// ("0.1,0.2 0.3"), or a JSON array ("[0.1, 0.2]"). nullopt with *error set otherwise.
std::optional<std::vector<float>> ParseVectorText(std::string_view text, std::string* error);

}  // namespace sextant::cli

#endif  // SEXTANT_TOOLS_CLI_ARGS_H_
