// A Tunnel over a plain TCP connection to a loopback port. Tests (and the
// recording transport's mapped tunnels) use it to reach servers they started on
// 127.0.0.1; it refuses any other address, so a test can never touch the
// network.
#pragma once

#include <memory>

#include "remote/transport.h"

namespace hardway {

Result<std::unique_ptr<Tunnel>> ConnectLoopbackTunnel(int port);

}  // namespace hardway
