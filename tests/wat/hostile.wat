;; A hostile guest: it implements the plugin ABI (host/src/guest/abi.rs) the way a
;; guest whose Lua VM was compromised could, driven by a "tape".
;;
;; It answers honestly until the host loads a plugin (bext_abi_version,
;; _initialize, bext_init, the first bext_input). The plugin "source" the host
;; then writes is the tape: bext_load copies it and from then on every value
;; the guest hands the host (statuses, pointers, lengths, output kinds) and
;; every host import it calls with its arguments comes from the tape, read in
;; order and wrapping around. bext_describe stays honest (no methods), so a
;; tape describes load and calls only. A sandbox rebuilt after a trap replays
;; the tape from the start.
;;
;; Tape values ($next):
;;   decimal digits      that number (u32, wrapping); one following space is skipped
;;   'M'                 the size of memory in bytes
;;   any other byte c    by c % 8: 0, 1, 0xffffffff, 0x7fffffff, memory size,
;;                       memory size - 8, 0x1000 (the input buffer), c itself
;;
;; Every entry (bext_load, bext_call) skips one value first: the input buffer
;; address, which bext_input, when the host asks for a buffer before a call,
;; returns without consuming it (the host asks for one at an instance's first
;; call and reuses it while inputs fit; bext_load's is the tape's own buffer),
;; so load and call use the same layout and a tape of one honest call cycles.
;; Then the entry runs:
;;   actions   values until a 0 or one above 16 (at most 8), each an action below
;;   status    the status code to return
;;   slot      where to write the output; the host reads only the slot
;;             bext_output reported when the instance was made (0x100)
;;   kind ptr len int
;;             stored in the slot (only when the slot lies inside memory)
;; so an honest entry is "4096 0 0 256 0 0 0 0 " (input buffer at 0x1000, no
;; action, status ok, slot 256, nil).
;;
;; Actions (arguments are the next tape values unless given):
;;   1 bext.log(level, ptr, len)           9 unbounded recursion
;;   2 bext.metric(name, len, value, tags, len)   10 bext.heap_exhausted(n)
;;   3 bext.event(kind, a, len, b, len)    11 proc_exit(code)
;;   4 fd_write(fd, iovs, n, nwritten)     12 poll_oneoff(in, out, n, nevents)
;;   5 random_get(ptr, len)                13 path_open(3, 0, path, len, .., fd_out)
;;   6 unreachable                         14 environ/args sizes and environ_get
;;   7 an infinite loop                    15 clock_time_get, fd_prestat_get, fd_read
;;   8 memory.grow(pages)                  16 fd_write(fd, the marker below)
;;
;; Fixed memory: 0x100 the output slot (describe writes its answer there,
;; a string of length 0: priority none, no methods), 0x200 an
;; iovec for the marker at 0x300, 0x380 invalid UTF-8, 0x400 a poll_oneoff
;; subscription sleeping one hour, 0x1000..0x7000 the input buffer,
;; 0x8000..0xf000 the tape.
(module
  (import "bext" "log" (func $log (param i32 i32 i32)))
  (import "bext" "metric" (func $metric (param i32 i32 f64 i32 i32) (result i32)))
  (import "bext" "event" (func $event (param i32 i32 i32 i32 i32)))
  (import "bext" "heap_exhausted" (func $heap_exhausted (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))

  (memory (export "memory") 1)
  (global $pos (mut i32) (i32.const 0))
  (global $tape_len (mut i32) (i32.const 0))
  (global $loaded (mut i32) (i32.const 0))
  (global $slot (mut i32) (i32.const 0x100))
  (global $depth (mut i32) (i32.const 0))

  ;; iovec { buf = 0x300, len = 21 } and the marker
  (data (i32.const 0x200) "\00\03\00\00\15\00\00\00")
  (data (i32.const 0x300) "HOSTILE-GUEST-STDOUT!")
  (data (i32.const 0x380) "\ff\fe\80")
  ;; subscription: userdata, tag 0 (clock), clock id 1 (monotonic),
  ;; timeout 3600 s in ns (0x0000_0346_30b8_a000), precision 0, flags 0
  (data (i32.const 0x400)
    "\00\00\00\00\00\00\00\00" "\00\00\00\00\00\00\00\00"
    "\01\00\00\00\00\00\00\00" "\00\a0\b8\30\46\03\00\00"
    "\00\00\00\00\00\00\00\00" "\00\00\00\00\00\00\00\00")

  (func $mem_bytes (result i32) (i32.shl (memory.size) (i32.const 16)))

  (func $byte_at (param $i i32) (result i32)
    (i32.load8_u (i32.add (i32.const 0x8000) (local.get $i))))

  (func $is_digit (param $c i32) (result i32)
    (i32.lt_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 10)))

  (func $next (result i32)
    (local $c i32) (local $v i32)
    (if (i32.eqz (global.get $tape_len)) (then (return (i32.const 0))))
    (if (i32.ge_u (global.get $pos) (global.get $tape_len)) (then (global.set $pos (i32.const 0))))
    (local.set $c (call $byte_at (global.get $pos)))
    (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
    (if (call $is_digit (local.get $c))
      (then
        (local.set $v (i32.sub (local.get $c) (i32.const 48)))
        (block $done
          (loop $digits
            (br_if $done (i32.ge_u (global.get $pos) (global.get $tape_len)))
            (local.set $c (call $byte_at (global.get $pos)))
            (br_if $done (i32.eqz (call $is_digit (local.get $c))))
            (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (i32.sub (local.get $c) (i32.const 48))))
            (global.set $pos (i32.add (global.get $pos) (i32.const 1)))
            (br $digits)))
        (if (i32.lt_u (global.get $pos) (global.get $tape_len))
          (then
            (if (i32.eq (call $byte_at (global.get $pos)) (i32.const 32))
              (then (global.set $pos (i32.add (global.get $pos) (i32.const 1)))))))
        (return (local.get $v))))
    (if (i32.eq (local.get $c) (i32.const 77)) (then (return (call $mem_bytes))))
    (block $c7 (block $c6 (block $c5 (block $c4 (block $c3 (block $c2 (block $c1 (block $c0
      (br_table $c0 $c1 $c2 $c3 $c4 $c5 $c6 $c7 (i32.and (local.get $c) (i32.const 7))))
      (return (i32.const 0)))
      (return (i32.const 1)))
      (return (i32.const -1)))
      (return (i32.const 0x7fffffff)))
      (return (call $mem_bytes)))
      (return (i32.sub (call $mem_bytes) (i32.const 8))))
      (return (i32.const 0x1000)))
    (local.get $c))

  (func $recurse
    (global.set $depth (i32.add (global.get $depth) (i32.const 1)))
    (call $recurse)
    (global.set $depth (i32.sub (global.get $depth) (i32.const 1))))

  (func $act (param $a i32)
    (block $none
    (block $a16 (block $a15 (block $a14 (block $a13 (block $a12 (block $a11 (block $a10 (block $a9
    (block $a8 (block $a7 (block $a6 (block $a5 (block $a4 (block $a3 (block $a2 (block $a1
      (br_table $none $a1 $a2 $a3 $a4 $a5 $a6 $a7 $a8 $a9 $a10 $a11 $a12 $a13 $a14 $a15 $a16 $none
        (local.get $a)))
      (call $log (call $next) (call $next) (call $next))
      (br $none))
      (drop (call $metric (call $next) (call $next) (f64.convert_i32_u (call $next)) (call $next) (call $next)))
      (br $none))
      (call $event (call $next) (call $next) (call $next) (call $next) (call $next))
      (br $none))
      (drop (call $fd_write (call $next) (call $next) (call $next) (call $next)))
      (br $none))
      (drop (call $random_get (call $next) (call $next)))
      (br $none))
      unreachable)
      (loop $forever (br $forever)))
      (drop (memory.grow (call $next)))
      (br $none))
      (call $recurse)
      (br $none))
      (call $heap_exhausted (call $next))
      (br $none))
      (call $proc_exit (call $next))
      (br $none))
      (drop (call $poll_oneoff (call $next) (call $next) (call $next) (call $next)))
      (br $none))
      (drop (call $path_open (i32.const 3) (i32.const 0) (call $next) (call $next) (i32.const 0)
        (i64.const 0) (i64.const 0) (i32.const 0) (call $next)))
      (br $none))
      (drop (call $environ_sizes_get (call $next) (call $next)))
      (drop (call $args_sizes_get (call $next) (call $next)))
      (drop (call $environ_get (call $next) (call $next)))
      (br $none))
      (drop (call $clock_time_get (call $next) (i64.const 0) (call $next)))
      (drop (call $fd_prestat_get (call $next) (call $next)))
      (drop (call $fd_read (call $next) (call $next) (call $next) (call $next)))
      (br $none))
      (drop (call $fd_write (call $next) (i32.const 0x200) (i32.const 1) (i32.const 0x210)))))

  (func $entry (result i32)
    (local $a i32) (local $n i32) (local $status i32) (local $s i32)
    (local $kind i32) (local $p i32) (local $len i32) (local $int i32)
    (block $end
      (loop $actions
        (local.set $a (call $next))
        (br_if $end (i32.or (i32.eqz (local.get $a)) (i32.gt_u (local.get $a) (i32.const 16))))
        (call $act (local.get $a))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $actions (i32.lt_u (local.get $n) (i32.const 8)))))
    (local.set $status (call $next))
    (local.set $s (call $next))
    (local.set $kind (call $next))
    (local.set $p (call $next))
    (local.set $len (call $next))
    (local.set $int (call $next))
    (global.set $slot (local.get $s))
    (if (i32.le_u (local.get $s) (i32.sub (call $mem_bytes) (i32.const 32)))
      (then
        (i32.store (local.get $s) (local.get $kind))
        (i32.store offset=4 (local.get $s) (local.get $p))
        (i32.store offset=8 (local.get $s) (local.get $len))
        (i64.store offset=16 (local.get $s) (i64.extend_i32_u (local.get $int)))))
    (local.get $status))

  (func (export "_initialize"))
  (func (export "bext_abi_version") (result i32) (i32.const 2))
  (func (export "bext_reseed") (result i32) (i32.const 0))
  (func (export "bext_init") (result i32) (i32.const 0))

  (func $peek (result i32)
    (local $at i32) (local $v i32)
    (local.set $at (global.get $pos))
    (local.set $v (call $next))
    (global.set $pos (local.get $at))
    (local.get $v))

  (func (export "bext_input") (param $len i32) (result i32)
    (if (global.get $loaded) (then (return (call $peek))))
    (if (i32.gt_u (local.get $len) (i32.const 0x6000)) (then (return (i32.const 0))))
    (i32.const 0x1000))

  (func (export "bext_load") (param $name i32) (param $config i32) (param $source i32) (result i32)
    (local $len i32)
    (local.set $len (local.get $source))
    (if (i32.gt_u (local.get $len) (i32.const 0x7000)) (then (local.set $len (i32.const 0x7000))))
    (memory.copy (i32.const 0x8000)
      (i32.add (i32.const 0x1000) (i32.add (local.get $name) (local.get $config)))
      (local.get $len))
    (global.set $tape_len (local.get $len))
    (global.set $pos (i32.const 0))
    (global.set $loaded (i32.const 1))
    (drop (call $next))
    (call $entry))

  (func (export "bext_call") (param $method i32) (param $args i32) (result i32)
    (drop (call $next))
    (call $entry))

  (func (export "bext_describe") (result i32)
    (i32.store (i32.const 0x100) (i32.const 4)) ;; a string
    (i32.store offset=4 (i32.const 0x100) (i32.const 0))
    (i32.store offset=8 (i32.const 0x100) (i32.const 0)) ;; of length 0
    (i32.const 0))

  (func (export "bext_output") (result i32) (global.get $slot)))
