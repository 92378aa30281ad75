#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright airgap authors. Licensed under the Apache License, Version 2.0.
"""Sets a host's clock once from the site's NTP servers, before any package."""

from __future__ import annotations

DOCUMENTATION = r"""
module: airgap_clock
short_description: Set the clock from the site's time servers before anything trusts it
description:
  - Asks each server in I(servers) for the time with SNTP (RFC 4330, one UDP
    datagram to port 123, a few samples each) and takes the offset of the
    answer with the smallest round trip. Needs Python's standard library only:
    it runs before any package is installed, when chrony cannot be.
  - When the clock is off by more than I(step_threshold) seconds it is stepped
    (C(clock_settime)); the offset is then measured again.
  - Fails, naming the offset and the server, when the clock stays off by more
    than I(max_offset) seconds (it could not be set: no CAP_SYS_TIME in a
    container), and when no server answers within I(wait) seconds while
    I(required).
options:
  servers:
    description: Addresses or names of the time servers; empty does nothing.
    type: list
    elements: str
    required: true
  port:
    description: The servers' NTP port.
    type: int
    default: 123
  step_threshold:
    description: Step the clock when it is off by more than this many seconds.
    type: float
    default: 1.0
  max_offset:
    description: Fail when the clock is still off by more than this many seconds.
    type: float
    default: 5.0
  wait:
    description: Seconds to keep asking while no server gives a synchronised answer.
    type: int
    default: 60
  required:
    description: Whether a server must answer (false for a time server whose peers may not run yet).
    type: bool
    default: true
"""

RETURN = r"""
offset:
  description: Seconds to add to this host's clock to agree with the server, before any step (null without an answer).
  type: float
server:
  description: The server the offset was measured against.
  type: str
stepped:
  description: Seconds the clock was stepped by (0 when it was not).
  type: float
offset_after:
  description: The offset measured after the step.
  type: float
synchronised:
  description: Whether that server said its own clock was synchronised (no server did within 15 s otherwise).
  type: bool
"""

import socket
import struct
import time

from ansible.module_utils.basic import AnsibleModule

# Seconds from the NTP era (1900) to the Unix epoch (1970).
NTP_DELTA = 2208988800
SAMPLES = 4
UNSYNCHRONISED_WAIT = 15


def to_ntp(t):
    """Unix seconds (float) -> the 64-bit NTP timestamp (seconds, fraction)."""
    t += NTP_DELTA
    sec = int(t)
    return struct.pack("!II", sec & 0xFFFFFFFF, int((t - sec) * 2**32) & 0xFFFFFFFF)


def from_ntp(b):
    """An 8-byte NTP timestamp -> Unix seconds (float); era 0 (until 2036)."""
    sec, frac = struct.unpack("!II", b)
    return sec - NTP_DELTA + frac / 2**32


def sample(address, port, timeout):
    """One SNTP exchange: (offset, delay, synchronised), seconds and whether
    the server says its clock is synchronised; raises ValueError with what was
    wrong with the answer (a kiss-o'-death, a stray datagram), OSError for the
    network."""
    family, _, _, _, sockaddr = socket.getaddrinfo(address, port, 0, socket.SOCK_DGRAM)[0]
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.settimeout(timeout)
        t1 = time.time()
        sent = to_ntp(t1)
        # LI 0, version 4, mode 3 (client); the transmit timestamp comes back as the origin.
        s.sendto(b"\x23" + b"\x00" * 39 + sent, sockaddr)
        data, _ = s.recvfrom(512)
        t4 = time.time()
    finally:
        s.close()
    if len(data) < 48:
        raise ValueError("short answer")
    leap, mode, stratum = data[0] >> 6, data[0] & 7, data[1]
    if mode != 4 or data[24:32] != sent:
        raise ValueError("not an answer to this request")
    # Stratum 0 with a reference ID is a kiss-o'-death (RATE, DENY, ...); an
    # unsynchronised server (leap 3) gives stratum 0 and no reference ID.
    if stratum == 0 and data[12:16] != b"\x00" * 4:
        raise ValueError("kiss-o'-death %r" % data[12:16].decode("ascii", "replace"))
    synchronised = leap != 3 and stratum != 0
    t2, t3 = from_ntp(data[32:40]), from_ntp(data[40:48])
    return ((t2 - t1) + (t3 - t4)) / 2, (t4 - t1) - (t3 - t2), synchronised


def measure(servers, port, wait):
    """The (offset, server, synchronised) of the answer with the smallest
    delay, synchronised servers first, and what each server that gave no
    answer said. Waits up to `wait` seconds for an answer, and up to
    UNSYNCHRONISED_WAIT of them for a synchronised one: a site without an
    upstream source whose servers started a moment ago has no synchronised
    server yet (chronyd waits before serving its local clock in orphan mode),
    and their clock is then the site's."""
    started = time.monotonic()
    while True:
        best, errors = {}, {}
        for server in servers:
            for _ in range(SAMPLES):
                try:
                    offset, delay, synchronised = sample(server, port, 1.0)
                except (OSError, ValueError) as e:
                    errors[server] = str(e) or type(e).__name__
                    continue
                errors.pop(server, None)
                if synchronised not in best or delay < best[synchronised][2]:
                    best[synchronised] = (offset, server, delay)
        elapsed = time.monotonic() - started
        if True in best:
            return best[True][:2] + (True,), errors
        if False in best and elapsed >= min(wait, UNSYNCHRONISED_WAIT):
            return best[False][:2] + (False,), errors
        if elapsed >= wait:
            return (None, None, False), errors
        time.sleep(2)


def describe(offset):
    return "%.3f s %s" % (abs(offset), "behind" if offset > 0 else "ahead of")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            servers=dict(type="list", elements="str", required=True),
            port=dict(type="int", default=123),
            step_threshold=dict(type="float", default=1.0),
            max_offset=dict(type="float", default=5.0),
            wait=dict(type="int", default=60),
            required=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, offset=None, server=None, stepped=0.0, offset_after=None)
    if not p["servers"]:
        module.exit_json(msg="no time server to ask", **result)
    (offset, server, synchronised), errors = measure(p["servers"], p["port"], p["wait"])
    if offset is None:
        said = "; ".join("%s: %s" % kv for kv in sorted(errors.items()))
        if p["required"]:
            module.fail_json(msg="no time server gave this host the time within %d s (%s): its clock cannot be checked "
                                 "before TLS and APT trust it" % (p["wait"], said), **result)
        module.exit_json(msg="no other time server answers yet (%s): this host's clock is taken as it is" % said, **result)
    result.update(offset=round(offset, 6), server=server, offset_after=round(offset, 6), synchronised=synchronised)
    if abs(offset) <= p["step_threshold"]:
        module.exit_json(msg="the clock is %s %s" % (describe(offset), server), **result)
    if module.check_mode:
        result.update(changed=True, stepped=round(offset, 6))
        module.exit_json(msg="the clock is %s %s: it would be stepped" % (describe(offset), server), **result)
    try:
        time.clock_settime(time.CLOCK_REALTIME, time.clock_gettime(time.CLOCK_REALTIME) + offset)
    except OSError as e:
        if abs(offset) > p["max_offset"]:
            module.fail_json(msg="the clock of this host is %s %s (offset %+.3f s, more than %.1f s): TLS and APT's Release "
                                 "dates cannot be trusted, and it could not be set here (%s). Set it (date -s, hwclock, "
                                 "the hypervisor's time) and run again." % (describe(offset), server, offset, p["max_offset"], e),
                             **result)
        module.warn("the clock is %s %s and could not be stepped (%s); within %.1f s, so the run goes on"
                    % (describe(offset), server, e, p["max_offset"]))
        module.exit_json(msg="the clock is %s %s" % (describe(offset), server), **result)
    result.update(changed=True, stepped=round(offset, 6))
    (after, server2, _), _ = measure([server], p["port"], 10)
    if after is not None:
        result.update(offset_after=round(after, 6))
        if abs(after) > p["max_offset"]:
            module.fail_json(msg="the clock of this host was stepped by %+.3f s but is still %s %s (offset %+.3f s, more "
                                 "than %.1f s)" % (offset, describe(after), server2, after, p["max_offset"]), **result)
    module.exit_json(msg="the clock was %s %s: stepped by %+.3f s" % (describe(offset), server, offset), **result)


if __name__ == "__main__":
    main()
