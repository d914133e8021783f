// `sextant demo`: a few-second tour of the engine on generated data.
#ifndef SEXTANT_TOOLS_DEMO_H_
#define SEXTANT_TOOLS_DEMO_H_

#include <string>

namespace sextant::cli {

// Runs the demo in database directory `db_path`, or in a fresh temporary directory when it is
// empty. Prints what it does on stdout; returns the process exit code.
int RunDemo(const std::string& db_path);

}  // namespace sextant::cli

#endif  // SEXTANT_TOOLS_DEMO_H_
