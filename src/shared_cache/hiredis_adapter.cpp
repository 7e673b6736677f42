// Copyright (c) glue-cpp authors. Distributed under the Boost Software License, Version 1.0.

#include "shared_cache/hiredis_adapter.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <utility>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

namespace glue::detail {

namespace asio = boost::asio;

hiredis_adapter::hiredis_adapter(const asio::strand<asio::any_io_executor>& s, redisAsyncContext* c,
                                 bool v6, bool listening)
    : strand_(s)
    , sock_(s, v6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), c->c.fd)
    , ac_(c)
    , listening_(listening) {}

void hiredis_adapter::read() {
    if (reading_ || !ac_ || !want_read_ || !(listening_ || ac_->replies.head)) {
        return;
    }
    reading_ = true;
    sock_.async_read_some(
        asio::buffer(in_),
        [self = shared_from_this()](error_code ec, std::size_t n) { self->on_read(ec, n); });
}

void hiredis_adapter::on_read(error_code ec, std::size_t n) {
    if (!ac_ || ec == asio::error::operation_aborted) {
        reading_ = false;
        return;
    }
    if (n > 0) {
        redisReaderFeed(ac_->c.reader, in_.data(), n);
    }
    // Its own read() then sees EAGAIN, the end of the stream, or more data. It asks for
    // reading again before it hands out the replies: still `reading_`, that arms nothing;
    // whether a reply is still due is known only afterwards.
    redisAsyncHandleRead(ac_);
    reading_ = false;
    if (ec) {
        fail();
        return;
    }
    read();
}

void hiredis_adapter::listen(bool on) {
    listening_ = on;
    if (on) {
        read();
    } else if (reading_ && ac_ && !ac_->replies.head) {
        error_code ignored;
        sock_.cancel(ignored);
    }
}

void hiredis_adapter::flush() {
    if (writing_ || !ac_ || !want_write_) {
        return;
    }
    if (ac_->c.flags & REDIS_CONNECTED) {
        send();
        return;
    }
    writing_ = true; // connecting: writable once connected (or refused)
    sock_.async_wait(asio::socket_base::wait_write, [self = shared_from_this()](error_code ec) {
        self->writing_ = false;
        if (!ec && self->ac_) {
            self->send();
        }
    });
}

// Takes what hiredis has buffered, lets hiredis finish the connect if it hasn't (its buffer
// now empty, it writes nothing), and writes it.
void hiredis_adapter::send() {
    out_.assign(ac_->c.obuf, sdslen(ac_->c.obuf));
    // sdsclear(), but sds.h's out-of-line functions lack C linkage under C++.
    sdssetlen(ac_->c.obuf, 0);
    ac_->c.obuf[0] = '\0';
    redisAsyncHandleWrite(ac_);
    if (!ac_ || out_.empty()) {
        return;
    }
    writing_ = true;
    asio::async_write(sock_, asio::buffer(out_),
                      [self = shared_from_this()](error_code ec, std::size_t) {
                          self->writing_ = false;
                          if (!self->ac_ || ec == asio::error::operation_aborted) {
                              return;
                          }
                          if (ec) {
                              self->fail();
                              return;
                          }
                          self->read();  // the replies to what was sent are due
                          self->flush(); // whatever hiredis buffered meanwhile
                      });
}

// The connection broke under us: freeing the context fails its pending replies and tells the
// link (its disconnect callback).
void hiredis_adapter::fail() {
    if (ac_) {
        redisAsyncFree(std::exchange(ac_, nullptr));
    }
}

void hiredis_adapter::attach() {
    ac_->ev.data = this;
    ac_->ev.addRead = [](void* p) {
        auto* self = static_cast<hiredis_adapter*>(p);
        self->want_read_ = true;
        self->read();
    };
    ac_->ev.delRead = [](void* p) { static_cast<hiredis_adapter*>(p)->want_read_ = false; };
    ac_->ev.addWrite = [](void* p) {
        // Called from inside hiredis's command functions: flushed after they return.
        auto* self = static_cast<hiredis_adapter*>(p);
        self->want_write_ = true;
        asio::post(self->strand_, [self = self->shared_from_this()] { self->flush(); });
    };
    ac_->ev.delWrite = [](void* p) { static_cast<hiredis_adapter*>(p)->want_write_ = false; };
    ac_->ev.cleanup = [](void* p) {
        auto* self = static_cast<hiredis_adapter*>(p);
        self->ac_ = nullptr;
        self->want_read_ = self->want_write_ = false;
        error_code ignored;
        self->sock_.cancel(ignored);
        self->sock_.release(ignored);
    };
}

} // namespace glue::detail
