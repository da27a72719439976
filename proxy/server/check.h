#pragma once

#include <iosfwd>

#include "config/config.h"

namespace slotproxy::server {

// `slotproxy check`: a one-shot diagnosis of the cluster behind the seeds. Asks every node it can
// find for CLUSTER INFO, SHARDS and NODES and reports: slot coverage by live primaries, primaries
// without a replica, nodes that disagree about who owns which slots, open (migrating/importing)
// slots and nodes that cannot be reached. Returns the exit code: 0 healthy, 1 a problem found or
// no node answered.
int runCheck(const config::Config& config, std::ostream& out);

}  // namespace slotproxy::server
