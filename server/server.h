// Runs sextantd: opens the database, serves it over gRPC until SIGTERM or SIGINT, then shuts
// down cleanly (in-flight calls finish, the database is flushed and closed).
#ifndef SEXTANT_SERVER_SERVER_H_
#define SEXTANT_SERVER_SERVER_H_

#include "server/config.h"

namespace sextant::server {

// Blocks SIGTERM, SIGINT (and ignores SIGPIPE) in the calling thread. Call it first in main,
// before any thread exists, so that every thread inherits the mask and the signals reach
// RunServer's sigwait and nothing else.
void BlockShutdownSignals();

// Serves until SIGTERM/SIGINT; returns the process exit code (kExitOk after a clean shutdown,
// kExitError when the server could not start).
int RunServer(const ServerConfig& config);

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_SERVER_H_
