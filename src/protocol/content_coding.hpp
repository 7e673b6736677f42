// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_PROTOCOL_CONTENT_CODING_HPP
#define GLUE_PROTOCOL_CONTENT_CODING_HPP

// Compressed response bodies (RFC 9110 §8.4): which Content-Encoding a response names, and a
// decoder that inflates gzip and deflate incrementally, as the body arrives, never holding more
// than a limit of decoded bytes. Pure: no I/O; zlib does the inflating.

#include "support/outcome.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace glue::detail {

/// The codings the client decodes. It asks for gzip and deflate only (Accept-Encoding).
enum class content_coding { identity, gzip, deflate };

/// The coding a Content-Encoding value names (several header fields joined with commas, as
/// RFC 9110 §5.3 lets a recipient do). Case-insensitive; "x-gzip" is gzip (§8.4.1.3); empty
/// list elements and "identity" are skipped. Fails with errc::bad_response for any other coding
/// (br, zstd, compress, ...) and for more than one coding ("gzip, gzip" included): the client
/// asked for neither.
result<content_coding> parse_content_coding(std::string_view value);

/// Inflates one response body. gzip: a series of gzip members (RFC 1952 §2.2; curl, gzip(1)
/// and Go accept several, so does this), nothing after the last. deflate: RFC 9110 means the
/// zlib format (RFC 1950), but some servers send raw deflate (RFC 1951), which browsers accept;
/// the first two bytes tell them apart (a zlib header: compression method 8, a window of at most
/// 32 KiB, a valid check value), and nothing may follow the stream's end.
///
/// Every failure is errc::bad_response with a message of its own: more than `limit` decoded
/// bytes (found before they are stored: a zip bomb costs at most `limit` bytes of memory),
/// corrupt data or a wrong CRC, bytes after the end, a body cut short (finish()).
class content_decoder {
public:
    /// `coding` must not be identity: an identity body needs no decoder.
    content_decoder(content_coding coding, std::size_t limit);
    ~content_decoder();
    content_decoder(const content_decoder&) = delete;
    content_decoder& operator=(const content_decoder&) = delete;

    /// Decodes the next `in` bytes of the body and appends what they decode to onto `out`, which
    /// holds what was decoded before, so `out` never grows past the limit. Whatever the
    /// expansion, zlib writes into a small buffer of fixed size, drained after each step. After
    /// a failure the decoder takes nothing more. Throws std::bad_alloc when out of memory.
    result<void> feed(std::string_view in, std::string& out);

    /// At the end of the body: fails when the compressed stream is incomplete. An empty body
    /// (no byte fed) is complete: a 204, or a server that compressed nothing.
    result<void> finish() const;

private:
    struct state;
    std::unique_ptr<state> st_;
};

} // namespace glue::detail

#endif
