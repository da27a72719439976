#pragma once

#include <span>
#include <string>

#include "proxy/command/command_table.h"

namespace slotproxy::router {

// Merges the replies of a kAllPrimaries command, one per primary, into the client's reply as
// `kind` says (command::Merge). An error reply from any primary becomes the whole reply (the
// first one); a reply of the wrong shape, or a sum past int64, gives an error naming the merge.
void mergeFanOut(command::Merge kind, std::span<const std::string> replies, std::string* out);

}  // namespace slotproxy::router
