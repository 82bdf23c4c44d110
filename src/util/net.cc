#include "util/net.h"

#include <charconv>

namespace hardway {

namespace {

uint32_t MaskFor(int prefix) {
  return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
}

// Parses a decimal integer with no sign, no leading '+', and no leading zeros
// beyond "0" (so "010" is rejected rather than silently read as octal or
// decimal).
std::optional<uint32_t> ParseDecimal(std::string_view text, uint32_t max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  uint32_t value = 0;
  auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value > max)
    return std::nullopt;
  return value;
}

}  // namespace

std::optional<Ipv4> Ipv4::Parse(std::string_view text) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    size_t dot = text.find('.');
    if ((i < 3) != (dot != std::string_view::npos)) return std::nullopt;
    std::string_view part = i < 3 ? text.substr(0, dot) : text;
    auto octet = ParseDecimal(part, 255);
    if (!octet) return std::nullopt;
    value = (value << 8) | *octet;
    if (i < 3) text.remove_prefix(dot + 1);
  }
  return Ipv4{value};
}

std::string Ipv4::ToString() const {
  return std::to_string(value >> 24) + "." +
         std::to_string((value >> 16) & 0xff) + "." +
         std::to_string((value >> 8) & 0xff) + "." +
         std::to_string(value & 0xff);
}

std::optional<Cidr> Cidr::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = Ipv4::Parse(text.substr(0, slash));
  auto prefix = ParseDecimal(text.substr(slash + 1), 32);
  if (!ip || !prefix) return std::nullopt;
  int p = static_cast<int>(*prefix);
  if ((ip->value & ~MaskFor(p)) != 0) return std::nullopt;  // host bits set
  return Cidr{*ip, p};
}

std::string Cidr::ToString() const {
  return network.ToString() + "/" + std::to_string(prefix);
}

bool Cidr::Contains(Ipv4 ip) const {
  return (ip.value & MaskFor(prefix)) == network.value;
}

bool Cidr::Contains(const Cidr& other) const {
  return other.prefix >= prefix && Contains(other.network);
}

bool Cidr::Overlaps(const Cidr& other) const {
  return Contains(other) || other.Contains(*this);
}

Ipv4 Cidr::Nth(uint64_t n) const {
  return Ipv4{network.value + static_cast<uint32_t>(n)};
}

std::optional<Cidr> Cidr::Subnet(int sub_prefix, uint64_t index) const {
  if (sub_prefix < prefix || sub_prefix > 32) return std::nullopt;
  uint64_t count = uint64_t{1} << (sub_prefix - prefix);
  if (index >= count) return std::nullopt;
  uint64_t step = uint64_t{1} << (32 - sub_prefix);
  return Cidr{Ipv4{network.value + static_cast<uint32_t>(index * step)},
              sub_prefix};
}

}  // namespace hardway
