// SPDX-License-Identifier: BSD-2-Clause
// ObjectContent: fingerprints tell a str or bytes object from a later one at
// its address, ignore what CPython changes in place (the cached hash), and
// refuse types whose objects can change.
#include <catch2/catch.hpp>
#include <cstring>

#include "python/object_content.h"
#include "support/py_image.h"

using namespace leakscope;
using namespace leakscope::python;
using leakscope::testing::PyImage;

namespace {

const PyVersion kVersions[] = {{3, 8, 18}, {3, 10, 13}, {3, 11, 7}, {3, 12, 1}, {3, 13, 0}};
constexpr uint64_t kStrType = 0x5000, kBytesType = 0x5800, kDictType = 0x6000;

void add_type(PyImage& image, const PyLayout& L, uint64_t addr, uint64_t flags) {
    std::vector<uint8_t> type(L.type_flags + 8, 0);
    std::memcpy(type.data() + L.type_flags, &flags, 8);
    image.regions[addr] = std::move(type);
}

uint64_t add_bytes(PyImage& image, const PyLayout& L, uint64_t addr, const std::string& data) {
    std::vector<uint8_t> obj(L.bytes_data + data.size() + 1, 0);
    const int64_t size = int64_t(data.size());
    std::memcpy(obj.data() + L.bytes_size, &size, 8);
    std::memcpy(obj.data() + L.bytes_data, data.data(), data.size());
    image.regions[addr] = std::move(obj);
    return addr;
}

}  // namespace

TEST_CASE("immutable objects are fingerprinted by their contents", "[object_content]") {
    for (const auto& v : kVersions) {
        INFO(v.str());
        const PyLayout L = *table_layout(v);
        PyImage image(L);
        add_type(image, L, kStrType, 1ull << 28);
        add_type(image, L, kBytesType, 1ull << 27);
        add_type(image, L, kDictType, 1ull << 29);
        const uint64_t a = image.add_str("item-17-3"), b = image.add_str("item-17-4"), same = image.add_str("item-17-3");
        const uint64_t hashed = image.add_str("item-17-3");
        const int64_t hash = 0x1234567;
        std::memcpy(image.regions[hashed].data() + 24, &hash, 8);  // hash(s) was taken: cached in the object
        const uint64_t long_a = image.add_str(std::string(100, 'x') + "a");
        const uint64_t long_b = image.add_str(std::string(102, 'x'));
        const uint64_t blob = add_bytes(image, L, 0x900000, "\x01\x02payload");
        const uint64_t blob2 = add_bytes(image, L, 0x910000, "\x01\x02payloae");
        const auto mem = image.memory();
        ObjectContent content(mem, L);

        const auto fa = content.fingerprint(a, kStrType);
        REQUIRE(fa);
        CHECK(content.fingerprint(b, kStrType) != fa);
        CHECK(content.fingerprint(same, kStrType) == fa);
        CHECK(content.fingerprint(hashed, kStrType) == fa);
        CHECK(content.fingerprint(long_a, kStrType) != content.fingerprint(long_b, kStrType));  // lengths differ
        REQUIRE(content.fingerprint(blob, kBytesType));
        CHECK(content.fingerprint(blob, kBytesType) != content.fingerprint(blob2, kBytesType));
        CHECK_FALSE(content.fingerprint(a, kDictType));        // a dict can change: no fingerprint
        CHECK_FALSE(content.fingerprint(0xdead0000, kStrType));  // unreadable
    }
}
