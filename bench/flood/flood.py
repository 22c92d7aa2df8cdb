#!/usr/bin/env python3
"""The slow-body webhook flood and the probes that measure the server under it.

A child process keeps FLOOD_CONNECTIONS connections POSTing to the Shopify order webhook with
`Content-Length: 2000000` and trickling the body (1 KiB every 100 ms); whenever the server
answers or closes one, its status is counted and a new one is opened. Meanwhile this process,
every second, times a redirect of a real link, delivers a correctly signed Shopify order, and
samples the server's RSS. Prints a summary; exits 1 if a probe failed or RSS went over
FLOOD_MAX_RSS_MB, 2 if the probes already fail before the flood (a broken setup).

    python3 bench/flood/flood.py --pid PID --base-url http://127.0.0.1:PORT --brand-id ID \
        --secret SECRET --link-code CODE [--discount-code CODE]

Environment: FLOOD_CONNECTIONS=300 FLOOD_SECONDS=60 FLOOD_TARGET=random|real
FLOOD_MAX_RSS_MB=150. Python 3.11 standard library only.
"""

import argparse
import asyncio
import base64
import collections
import datetime
import hashlib
import hmac
import itertools
import json
import multiprocessing
import os
import random
import resource
import sys
import time
import urllib.parse
import uuid

BODY_LENGTH = 2_000_000  # announced, under the webhook's 2 MiB limit, so it is not refused upfront
CHUNK = b" " * 1024  # JSON whitespace: valid as far as it goes
CHUNK_INTERVAL = 0.1
PROBE_TIMEOUT = 10.0  # a probe slower than this counts as failed
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def env_int(name, default):
    return int(os.environ.get(name, default))


# ---------------------------------------------------------------- the flood (child process)


async def flood_connection(host, port, path, deadline, stats):
    """One slow-body request: returns when the server answers or closes it, or at the deadline."""
    start = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), max(0.1, deadline - start)
        )
    except (OSError, TimeoutError) as e:
        stats["statuses"][f"connect failed ({type(e).__name__})"] += 1
        await asyncio.sleep(0.1)  # no hot loop against a closed port
        return
    stats["opened"] += 1
    # The attacker's address, as the trusted proxy in front (run.sh) forwards it: one address,
    # or a botnet of addresses from TEST-NET-3 (FLOOD_ADDRESSES=one|many).
    if os.environ.get("FLOOD_ADDRESSES", "many") == "one":
        address = "203.0.113.1"
    else:
        address = f"203.0.113.{random.randrange(1, 255)}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"X-Forwarded-For: {address}\r\nContent-Length: {BODY_LENGTH}\r\n\r\n"
    ).encode()

    async def trickle():
        try:
            writer.write(head + b"{")
            sent = 1
            while sent < BODY_LENGTH:
                await asyncio.sleep(CHUNK_INTERVAL)
                n = min(len(CHUNK), BODY_LENGTH - sent)
                writer.write(CHUNK[:n])
                sent += n
                await writer.drain()
        except OSError:
            pass  # reset or closed by the server: the reader reports what it answered, if anything

    sender = asyncio.create_task(trickle())
    try:
        line = await asyncio.wait_for(reader.readline(), deadline - time.monotonic())
        if line.startswith(b"HTTP/") and len(line.split()) >= 2:
            stats["statuses"][line.split()[1].decode(errors="replace")] += 1
        elif not line:
            stats["statuses"]["closed without an answer"] += 1
        else:
            stats["statuses"]["not HTTP"] += 1
        held = time.monotonic() - start
    except TimeoutError:
        # Still in flight at the end of the run: the server neither answered nor closed it.
        held = time.monotonic() - start
        stats["held_at_end"] += 1
    except (OSError, ValueError) as e:  # ValueError: an over-long line
        stats["statuses"][f"error ({type(e).__name__})"] += 1
        held = time.monotonic() - start
    finally:
        sender.cancel()
        writer.transport.abort()
    stats["max_held"] = max(stats["max_held"], held)


async def flood_slot(host, port, path_of, deadline, stats):
    while time.monotonic() < deadline:
        await flood_connection(host, port, path_of(), deadline, stats)


async def flood_main(base_url, connections, target, brand_id, deadline):
    url = urllib.parse.urlsplit(base_url)
    if target == "real":
        path_of = lambda: f"/api/v1/integrations/shopify/{brand_id}/orders"  # noqa: E731
    else:
        path_of = lambda: f"/api/v1/integrations/shopify/{uuid.uuid4()}/orders"  # noqa: E731
    stats = {"statuses": collections.Counter(), "opened": 0, "held_at_end": 0, "max_held": 0.0}
    await asyncio.gather(
        *(flood_slot(url.hostname, url.port, path_of, deadline, stats) for _ in range(connections))
    )
    return stats


def flood_process(conn, *args):
    # 300 sockets plus the interpreter's own files can pass a low soft limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    conn.send(asyncio.run(flood_main(*args)))
    conn.close()


# ---------------------------------------------------------------- the probes (this process)


class NoAnswer(ConnectionError):
    """The server closed the connection without an HTTP answer."""


async def http_request(base_url, method, path, headers=None, body=b""):
    """A request on a fresh connection (as a shopper's click or a Shopify delivery arrives);
    returns (status, seconds)."""
    url = urllib.parse.urlsplit(base_url)
    start = time.monotonic()
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status_line = await reader.readline()
        if not status_line.startswith(b"HTTP/"):
            raise NoAnswer()
        status = int(status_line.split()[1])
        length = None
        while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        # The whole answer counts in the latency.
        await (reader.readexactly(length) if length is not None else reader.read())
        return status, time.monotonic() - start
    finally:
        writer.transport.abort()


_order_ids = itertools.count(int(time.time() * 1000) * 1000)  # unique across runs


def signed_order(secret, discount_code):
    """A minimal Shopify order (the fields the webhook reads), and its signature header."""
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    order = {
        "id": next(_order_ids),
        "currency": "EUR",
        "subtotal_price": "42.00",
        "created_at": now,
        "processed_at": now,
        "discount_codes": [{"code": discount_code}] if discount_code else [],
        "note_attributes": [],
        "email": "shopper@mail.example.com",
        "test": False,
    }
    body = json.dumps(order).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return body, base64.b64encode(digest).decode()


async def probe_redirect(args, results):
    try:
        status, seconds = await asyncio.wait_for(
            http_request(args.base_url, "GET", f"/r/{args.link_code}", {"User-Agent": BROWSER}),
            PROBE_TIMEOUT,
        )
        results.append((str(status), seconds))
    except Exception as e:  # a timeout or a refused connection is a failed redirect
        results.append((type(e).__name__, None))


async def probe_webhook(args, results):
    body, signature = signed_order(args.secret, args.discount_code)
    # The store sends from an address of its own (forwarded by the trusted proxy, run.sh).
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": signature,
        "X-Forwarded-For": "198.51.100.7",
    }
    path = f"/api/v1/integrations/shopify/{args.brand_id}/orders"
    try:
        status, seconds = await asyncio.wait_for(
            http_request(args.base_url, "POST", path, headers, body), PROBE_TIMEOUT
        )
        results.append((str(status), seconds))
    except Exception as e:
        results.append((type(e).__name__, None))


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return None  # the server is gone


def percentile(sorted_values, p):
    """Nearest rank."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))]


REDIRECT_OK = {"302"}
WEBHOOK_OK = {"200", "201"}


async def preflight(args):
    redirects, webhooks = [], []
    await asyncio.gather(probe_redirect(args, redirects), probe_webhook(args, webhooks))
    if redirects[0][0] not in REDIRECT_OK or webhooks[0][0] not in WEBHOOK_OK:
        print(f"before the flood: redirect {redirects[0][0]}, signed webhook {webhooks[0][0]}"
              " -- the setup is broken, not measuring", file=sys.stderr)
        sys.exit(2)


async def measure(args, seconds, flood_done):
    redirects, webhooks, rss = [], [], []
    tasks = []
    start = time.monotonic()
    for tick in itertools.count():
        # Fixed one-second ticks; a slow probe does not delay the next ones.
        await asyncio.sleep(max(0.0, start + tick - time.monotonic()))
        if time.monotonic() >= start + seconds or flood_done():
            break
        tasks.append(asyncio.create_task(probe_redirect(args, redirects)))
        tasks.append(asyncio.create_task(probe_webhook(args, webhooks)))
        rss.append(rss_mb(args.pid))
    await asyncio.gather(*tasks)
    return redirects, webhooks, rss


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pid", type=int, required=True, help="the server's process id")
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8080")
    parser.add_argument("--brand-id", required=True)
    parser.add_argument("--secret", required=True, help="the brand's Shopify webhook secret")
    parser.add_argument("--link-code", required=True, help="a real link's code, for /r/<code>")
    parser.add_argument("--discount-code", default="", help="put on the signed orders, if given")
    args = parser.parse_args()

    connections = env_int("FLOOD_CONNECTIONS", 300)
    seconds = env_int("FLOOD_SECONDS", 60)
    target = os.environ.get("FLOOD_TARGET", "random")
    max_rss = float(os.environ.get("FLOOD_MAX_RSS_MB", 150))
    if target not in ("random", "real"):
        sys.exit(f"FLOOD_TARGET must be random or real, not {target!r}")

    asyncio.run(preflight(args))
    rss_start = rss_mb(args.pid)
    print(f"flood: {connections} connections x {BODY_LENGTH} announced bytes at "
          f"{len(CHUNK) / CHUNK_INTERVAL / 1024:.0f} KiB/s each, {seconds} s, "
          f"target {target}; probing every second", flush=True)

    # The flood runs in its own process so that its event loop, busy with hundreds of
    # sockets, does not add its own delays to the probes' latencies.
    deadline = time.monotonic() + seconds  # CLOCK_MONOTONIC is shared by both processes
    receiver, sender = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(
        target=flood_process,
        args=(sender, args.base_url, connections, target, args.brand_id, deadline),
    )
    child.start()
    sender.close()
    redirects, webhooks, rss = asyncio.run(measure(args, seconds, lambda: not child.is_alive()))
    flood = receiver.recv() if receiver.poll(PROBE_TIMEOUT + 5) else None
    child.join(5)
    time.sleep(1)  # let the server notice the closed connections before the last sample
    rss_end = rss_mb(args.pid)

    # ---- the summary
    failed = []
    print()
    if flood is None:
        print("flood: the flood process reported nothing (it crashed?)")
        failed.append("flood process")
    else:
        answered = sum(flood["statuses"].values())
        print(f"flood connections: {flood['opened']} opened; {answered} ended during the run "
              f"(answered, closed, or failed to connect); {flood['held_at_end']} still held open "
              f"at the end; longest held {flood['max_held']:.1f} s")
        for status, n in sorted(flood["statuses"].items(), key=lambda kv: -kv[1]):
            print(f"  {status:>28}: {n}")

    ok = [s for s, _ in redirects if s in REDIRECT_OK]
    latencies = sorted(t * 1000 for _, t in redirects if t is not None)
    print(f"redirects: {len(ok)}/{len(redirects)} ok (302); latency p50 "
          f"{percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, max "
          f"{max(latencies, default=float('nan')):.1f} ms")
    bad = collections.Counter(s for s, _ in redirects if s not in REDIRECT_OK)
    if bad or not redirects:
        print(f"  failed: {dict(bad)}")
        failed.append("redirects")

    ok = [s for s, _ in webhooks if s in WEBHOOK_OK]
    wl = sorted(t * 1000 for _, t in webhooks if t is not None)
    print(f"signed webhooks: {len(ok)}/{len(webhooks)} ok; statuses "
          f"{dict(collections.Counter(s for s, _ in webhooks))}; latency p50 "
          f"{percentile(wl, 50):.1f} ms, p99 {percentile(wl, 99):.1f} ms")
    if len(ok) != len(webhooks) or not webhooks:
        failed.append("signed webhooks")

    samples = [r for r in rss if r is not None]
    rss_max = max(samples + [rss_start or 0, rss_end or 0])
    fmt = lambda v: "gone" if v is None else f"{v:.1f} MB"  # noqa: E731
    print(f"server RSS: start {fmt(rss_start)}, max {rss_max:.1f} MB, end {fmt(rss_end)} "
          f"(limit FLOOD_MAX_RSS_MB={max_rss:g})")
    if rss_max > max_rss:
        failed.append("RSS")
    if rss_end is None or len(samples) < len(rss):
        print("  the server process exited during the run")
        failed.append("server exited")

    print("FAIL: " + ", ".join(failed) if failed else "OK")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
