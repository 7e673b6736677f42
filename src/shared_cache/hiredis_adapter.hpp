// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#ifndef GLUE_SHARED_CACHE_HIREDIS_ADAPTER_HPP
#define GLUE_SHARED_CACHE_HIREDIS_ADAPTER_HPP

// The socket of one hiredis context, as Asio sees it. hiredis formats commands into its
// output buffer and parses what it is fed; Asio moves the bytes, on the connection's strand:
// - reads with async_read_some (speculative: a descriptor wait could miss an edge of Asio's
//   edge-triggered epoll), fed to hiredis's reader, then hiredis dispatches the replies;
// - writes hiredis's buffer with async_write, which sends with MSG_NOSIGNAL: hiredis's own
//   write() would raise SIGPIPE on a connection Redis has closed. hiredis itself only
//   finishes the connect.
// It reads only while a reply is due or it is listening, never in the background: an idle
// connection is no work for the io_context, so a program's run() returns when its own work is
// done (a connection that died while idle is noticed by the next command). The descriptor is
// released, not closed (hiredis owns it), in the cleanup hook hiredis calls as it frees the
// context.

#include <glue/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <string>

struct redisAsyncContext;

namespace glue::detail {

class hiredis_adapter : public std::enable_shared_from_this<hiredis_adapter> {
public:
    /// `c`: a context hiredis is connecting, on an IPv6 address if `v6`. With `listening`, it
    /// reads from the start (a subscription's confirmation is due).
    hiredis_adapter(const boost::asio::strand<boost::asio::any_io_executor>& s,
                    redisAsyncContext* c, bool v6, bool listening);

    /// Installs the event hooks in the context: from then on, hiredis drives this adapter.
    void attach();

    /// Reads if it isn't, and a reply is due or it is listening (call when a command is sent).
    void read();

    /// While on, reads even with no reply due (a subscription, a handshake). Off, a read that
    /// waits for nothing due is cancelled.
    void listen(bool on);

private:
    void on_read(error_code ec, std::size_t n);
    void flush();
    void send();
    void fail();

    boost::asio::strand<boost::asio::any_io_executor> strand_;
    boost::asio::ip::tcp::socket sock_;
    redisAsyncContext* ac_; // null once hiredis has freed it
    bool want_read_ = false, want_write_ = false, reading_ = false, writing_ = false;
    bool listening_;
    std::array<char, 16 * 1024> in_;
    std::string out_; // being written: taken from hiredis's buffer
};

} // namespace glue::detail

#endif
