// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.
#include "latency_relay.hpp"

#include "support/saturating.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <deque>
#include <list>
#include <utility>
#include <vector>

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace glue_bench {
namespace {

using relay_clock = std::chrono::steady_clock;
using boost::system::error_code;
constexpr auto as_tuple_awaitable = asio::as_tuple(asio::use_awaitable);

// One read: a connection's chunks are at most this large (more is read on the next turn).
constexpr std::size_t relay_read_size = 64 * 1024;
// Chunks already due go out together, in one gathered write of at most this many buffers.
constexpr std::size_t relay_max_gather = 64;

struct relay_chunk {
    relay_clock::time_point due;
    std::vector<char> bytes;
};

// One direction of one connection: what was read from one side and is due for the other. The
// two coroutines serving it wake each other through a timer each (the "timer as condition
// variable" idiom: cancel() wakes the waiter; everything runs on one thread, so checking the
// condition and starting the wait can't be interleaved with a wake-up).
struct relay_lane {
    explicit relay_lane(const asio::any_io_executor& ex) : writer_wake(ex), reader_wake(ex) {}

    std::deque<relay_chunk> queue;
    std::size_t queued = 0;
    bool fin = false; // the source ended: shut the far side down once fin_due has come
    relay_clock::time_point fin_due;
    bool writer_idle = false;    // the writer waits for data (not for a chunk to fall due)
    bool reader_blocked = false; // the reader waits for room
    asio::steady_timer writer_wake, reader_wake;

    void wake_writer() {
        if (writer_idle) {
            writer_wake.cancel();
        }
    }
};

} // namespace

struct latency_relay::impl {
    impl(const asio::any_io_executor& ex, const relay_options& o) : opt(o), acceptor(ex) {
        acceptor.open(opt.listen.protocol());
        acceptor.set_option(tcp::acceptor::reuse_address(true));
        acceptor.bind(opt.listen);
        acceptor.listen(asio::socket_base::max_listen_connections);
        port = acceptor.local_endpoint().port();
    }

    class session;
    static asio::awaitable<void> accept_loop(std::shared_ptr<impl> self);

    const relay_options opt;
    tcp::acceptor acceptor;
    unsigned short port = 0;
    relay_counters counters;
    std::list<std::weak_ptr<session>> sessions; // to close them on stop()
};

// A client's connection and the relay's own to the target, with a lane each way.
class latency_relay::impl::session : public std::enable_shared_from_this<session> {
public:
    session(std::shared_ptr<impl> relay, tcp::socket client)
        : relay_(std::move(relay))
        , client_(std::move(client))
        , server_(client_.get_executor())
        , up_(client_.get_executor())
        , down_(client_.get_executor()) {}

    static asio::awaitable<void> run(std::shared_ptr<session> self) {
        const relay_options& opt = self->relay_->opt;
        // Bounded: a target that does not answer closes the attempt (and the client).
        asio::steady_timer limit(self->server_.get_executor());
        limit.expires_after(opt.connect_timeout);
        limit.async_wait([weak = std::weak_ptr<session>(self)](error_code ec) {
            auto s = weak.lock();
            if (!ec && s) {
                s->server_.close(ec);
            }
        });
        auto [ec] = co_await self->server_.async_connect(opt.target, as_tuple_awaitable);
        limit.cancel();
        if (ec || self->aborted_) {
            ++self->relay_->counters.failed_connects;
            self->abort();
            co_return;
        }
        self->client_.set_option(tcp::no_delay(true), ec);
        self->server_.set_option(tcp::no_delay(true), ec);
        auto& c = self->relay_->counters;
        const auto ex = self->client_.get_executor();
        asio::co_spawn(ex, read_loop(self, self->client_, self->up_, c.bytes_to_target),
                       asio::detached);
        asio::co_spawn(ex, write_loop(self, self->server_, self->up_), asio::detached);
        asio::co_spawn(ex, read_loop(self, self->server_, self->down_, c.bytes_from_target),
                       asio::detached);
        asio::co_spawn(ex, write_loop(self, self->client_, self->down_), asio::detached);
    }

    // Both sides reset at once (a broken stream, or the relay stopping): linger 0 makes close()
    // send RST, so neither peer mistakes it for an orderly end.
    void abort() {
        if (aborted_) {
            return;
        }
        aborted_ = true;
        error_code ignored;
        for (tcp::socket* s : {&client_, &server_}) {
            if (s->is_open()) {
                s->set_option(asio::socket_base::linger(true, 0), ignored);
            }
            s->close(ignored);
        }
        for (relay_lane* l : {&up_, &down_}) {
            l->writer_wake.cancel();
            l->reader_wake.cancel();
        }
    }

private:
    static asio::awaitable<void> read_loop(std::shared_ptr<session> self, tcp::socket& from,
                                           relay_lane& lane, std::uint64_t& counted) {
        const relay_options& opt = self->relay_->opt;
        std::vector<char> buffer(relay_read_size);
        for (;;) {
            // Backpressure: while the lane is full, nothing is read, and TCP's window closes on
            // the sender.
            while (lane.queued >= opt.max_queued_bytes && !self->aborted_) {
                lane.reader_blocked = true;
                lane.reader_wake.expires_at(relay_clock::time_point::max());
                co_await lane.reader_wake.async_wait(as_tuple_awaitable);
                lane.reader_blocked = false;
            }
            if (self->aborted_) {
                co_return;
            }
            auto [ec, n] = co_await from.async_read_some(asio::buffer(buffer), as_tuple_awaitable);
            if (self->aborted_) {
                co_return;
            }
            // Stamped when read: each byte is forwarded `delay` after it arrived here.
            const auto due = glue::detail::saturating_add(relay_clock::now(), opt.delay);
            if (n > 0) {
                lane.queue.push_back(
                    relay_chunk{due, std::vector<char>(buffer.begin(), buffer.begin() + n)});
                lane.queued += n;
                counted += n;
                auto& peak = self->relay_->counters.peak_queued_bytes;
                peak = std::max(peak, lane.queued);
                lane.wake_writer();
            }
            if (ec == asio::error::eof) {
                lane.fin = true;
                lane.fin_due = due;
                lane.wake_writer();
                co_return;
            }
            if (ec) {
                self->abort();
                co_return;
            }
        }
    }

    static asio::awaitable<void> write_loop(std::shared_ptr<session> self, tcp::socket& to,
                                            relay_lane& lane) {
        std::vector<asio::const_buffer> out;
        for (;;) {
            if (self->aborted_) {
                co_return;
            }
            if (lane.queue.empty() && !lane.fin) {
                lane.writer_idle = true;
                lane.writer_wake.expires_at(relay_clock::time_point::max());
                co_await lane.writer_wake.async_wait(as_tuple_awaitable);
                lane.writer_idle = false;
                continue;
            }
            // The FIN is due no earlier than every byte before it.
            const auto due = lane.queue.empty() ? lane.fin_due : lane.queue.front().due;
            const auto now = relay_clock::now();
            if (due > now) {
                lane.writer_wake.expires_at(due);
                co_await lane.writer_wake.async_wait(as_tuple_awaitable);
                continue; // due now, unless aborted meanwhile
            }
            if (lane.queue.empty()) {
                error_code ec;
                to.shutdown(tcp::socket::shutdown_send, ec);
                break;
            }
            out.clear();
            std::size_t bytes = 0;
            for (const relay_chunk& c : lane.queue) {
                if (c.due > now || out.size() == relay_max_gather) {
                    break;
                }
                out.push_back(asio::buffer(c.bytes));
                bytes += c.bytes.size();
            }
            // The reader may append to the deque meanwhile: that moves no element, so the
            // buffers stay valid.
            auto [ec, n] = co_await asio::async_write(to, out, as_tuple_awaitable);
            if (ec || self->aborted_) {
                self->abort();
                co_return;
            }
            lane.queue.erase(lane.queue.begin(),
                             lane.queue.begin() + static_cast<std::ptrdiff_t>(out.size()));
            lane.queued -= bytes;
            if (lane.reader_blocked) {
                lane.reader_wake.cancel();
            }
        }
        // This direction is over. Once both are, the connection closes in order (both peers
        // have sent their FIN and had it delivered).
        if (++self->directions_done_ == 2) {
            error_code ignored;
            self->client_.close(ignored);
            self->server_.close(ignored);
        }
    }

    std::shared_ptr<impl> relay_; // counters and options outlive the relay object itself
    tcp::socket client_, server_;
    relay_lane up_, down_; // client to target, target to client
    bool aborted_ = false;
    int directions_done_ = 0;
};

asio::awaitable<void> latency_relay::impl::accept_loop(std::shared_ptr<impl> self) {
    for (;;) {
        auto [ec, socket] = co_await self->acceptor.async_accept(as_tuple_awaitable);
        if (!self->acceptor.is_open()) {
            co_return;
        }
        if (ec) {
            // Out of descriptors or memory: wait a little rather than spin.
            asio::steady_timer pause(self->acceptor.get_executor(), std::chrono::milliseconds(10));
            co_await pause.async_wait(as_tuple_awaitable);
            continue;
        }
        ++self->counters.connections;
        auto s = std::make_shared<session>(self, std::move(socket));
        self->sessions.remove_if([](const std::weak_ptr<session>& w) { return w.expired(); });
        self->sessions.push_back(s);
        asio::co_spawn(self->acceptor.get_executor(), session::run(std::move(s)), asio::detached);
    }
}

latency_relay::latency_relay(asio::any_io_executor ex, const relay_options& opt)
    : impl_(std::make_shared<impl>(ex, opt)) {}

latency_relay::~latency_relay() {
    stop();
}

unsigned short latency_relay::port() const {
    return impl_->port;
}

void latency_relay::start() {
    asio::co_spawn(impl_->acceptor.get_executor(), impl::accept_loop(impl_), asio::detached);
}

void latency_relay::stop() {
    error_code ignored;
    impl_->acceptor.close(ignored);
    for (const auto& w : impl_->sessions) {
        if (auto s = w.lock()) {
            s->abort();
        }
    }
    impl_->sessions.clear();
}

relay_counters latency_relay::counters() const {
    return impl_->counters;
}

} // namespace glue_bench
