// sat_hw HLS header library: .npy files for the C testbench (not for synthesis).
//
// Reads C-order uint8 ('|u1') and int64 ('<i8') arrays of any rank; writes C-order int64.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace sat {

template <typename T>
struct npy {
    std::vector<unsigned long> shape;
    std::vector<T> data;
};
typedef npy<unsigned char> npy_u8;
typedef npy<long long> npy_i64;

template <typename T> inline const char *npy_descr();
template <> inline const char *npy_descr<unsigned char>() { return "'descr': '|u1'"; }
template <> inline const char *npy_descr<long long>() { return "'descr': '<i8'"; }

inline bool npy_fail(const std::string &path, const std::string &why) {
    std::fprintf(stderr, "error: %s: %s\n", path.c_str(), why.c_str());
    return false;
}

// Load a .npy of T (unsigned char or long long); false (one line on stderr) if it is not one.
template <typename T>
inline bool load_npy(const std::string &path, npy<T> &a) {
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return npy_fail(path, "cannot open");
    unsigned char pre[10];
    if (std::fread(pre, 1, 10, f) != 10 || pre[0] != 0x93 || std::string((char *)pre + 1, 5) != "NUMPY") {
        std::fclose(f);
        return npy_fail(path, "not a .npy file");
    }
    unsigned long hlen = pre[8] | (pre[9] << 8);
    if (pre[6] >= 2) {  // versions 2 and 3: 4-byte header length
        unsigned char more[2];
        if (std::fread(more, 1, 2, f) != 2) { std::fclose(f); return npy_fail(path, "truncated"); }
        hlen |= (unsigned long)more[0] << 16 | (unsigned long)more[1] << 24;
    }
    std::string h(hlen, ' ');
    if (std::fread(&h[0], 1, hlen, f) != hlen) { std::fclose(f); return npy_fail(path, "truncated"); }
    if (h.find(npy_descr<T>()) == std::string::npos) { std::fclose(f); return npy_fail(path, std::string("dtype is not ") + npy_descr<T>()); }
    if (h.find("'fortran_order': False") == std::string::npos) { std::fclose(f); return npy_fail(path, "not C order"); }
    size_t lp = h.find("'shape': ("), rp = h.find(')', lp);
    if (lp == std::string::npos || rp == std::string::npos) { std::fclose(f); return npy_fail(path, "no shape"); }
    a.shape.clear();
    unsigned long n = 1;
    for (size_t i = lp + 10; i < rp;) {
        char *end;
        unsigned long d = std::strtoul(h.c_str() + i, &end, 10);
        if (end == h.c_str() + i) { i++; continue; }
        a.shape.push_back(d);
        n *= d;
        i = end - h.c_str();
    }
    a.data.resize(n);
    size_t got = n ? std::fread(a.data.data(), sizeof(T), n, f) : 0;
    std::fclose(f);
    if (got != n) return npy_fail(path, "truncated data");
    return true;
}

// Write an int64 .npy (version 1.0) of the given shape.
inline bool save_npy_i64(const std::string &path, const std::vector<unsigned long> &shape,
                         const std::vector<long long> &data) {
    std::string dims;
    for (size_t i = 0; i < shape.size(); i++) dims += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
    std::string h = "{'descr': '<i8', 'fortran_order': False, 'shape': (" + dims + "), }";
    while ((10 + h.size() + 1) % 64) h += ' ';
    h += '\n';
    FILE *f = std::fopen(path.c_str(), "wb");
    if (!f) return npy_fail(path, "cannot write");
    const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                   (unsigned char)(h.size() & 0xff), (unsigned char)(h.size() >> 8)};
    std::fwrite(pre, 1, 10, f);
    std::fwrite(h.data(), 1, h.size(), f);
    std::fwrite(data.data(), sizeof(long long), data.size(), f);
    return std::fclose(f) == 0 ? true : npy_fail(path, "write failed");
}

}  // namespace sat
