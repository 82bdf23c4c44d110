// IPv4 addresses and CIDR blocks. hardway's clusters are IPv4 (as the hard way's); IPv6 is
// rejected with a clear message by the inventory validation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hardway {

struct Ipv4 {
  uint32_t value = 0;  // host byte order
  static std::optional<Ipv4> Parse(std::string_view text);
  std::string ToString() const;
  auto operator<=>(const Ipv4&) const = default;
};

struct Cidr {
  Ipv4 network;     // masked: host bits zero
  int prefix = 32;  // 0..32
  // "10.200.0.0/16". Rejects host bits set ("10.200.0.1/16") and prefixes outside 0..32.
  static std::optional<Cidr> Parse(std::string_view text);
  std::string ToString() const;
  uint64_t size() const { return uint64_t{1} << (32 - prefix); }
  bool Contains(Ipv4 ip) const;
  bool Contains(const Cidr& other) const;
  bool Overlaps(const Cidr& other) const;
  // The n-th address of the block (0 = network address). Caller keeps n < size().
  Ipv4 Nth(uint64_t n) const;
  // The i-th sub-block of length `sub_prefix` (e.g. the i-th /24 of a /16).
  std::optional<Cidr> Subnet(int sub_prefix, uint64_t index) const;
  auto operator<=>(const Cidr&) const = default;
};

}  // namespace hardway
