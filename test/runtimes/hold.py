# Held by tscr's runtime test: data, timers and fd kinds in a python3 process.
# python3 hold.py OUTFILE: writes OUTFILE.ready when set up; on SIGUSR1 checks
# everything and writes PASS or FAIL: why to OUTFILE.
import os, sys, signal, socket, selectors, time
os.closerange(3, 4096)
out = sys.argv[1]
data = {i: str(i * i) for i in range(20000)}
ticks = [0]
signal.signal(signal.SIGALRM, lambda s, f: ticks.__setitem__(0, ticks[0] + 1))
signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
a, b = socket.socketpair()
a.sendall(b'queued-a-to-b')
b.sendall(b'queued-b-to-a')
r, w = os.pipe()
os.write(w, b'held-in-pipe')
ev = os.eventfd(5)
m = os.memfd_create('pyheld')
os.write(m, b'memfd-bytes' * 1000)
sel = selectors.DefaultSelector()
sel.register(b, selectors.EVENT_READ, 'b-readable')
go = [False]
signal.signal(signal.SIGUSR1, lambda s, f: go.__setitem__(0, True))
open(out + '.ready', 'w').write(str(os.getpid()))
while not go[0]:
    time.sleep(0.01)
def check():
    if any(data[i] != str(i * i) for i in (0, 1, 9999, 19999)) or len(data) != 20000: return 'data'
    keys = [k.data for k, _ in sel.select(timeout=1)]
    if keys != ['b-readable']: return f'epoll readiness {keys}'
    if b.recv(100) != b'queued-a-to-b': return 'socket a->b'
    if a.recv(100) != b'queued-b-to-a': return 'socket b->a'
    if os.read(r, 100) != b'held-in-pipe': return 'pipe'
    if os.eventfd_read(ev) != 5: return 'eventfd'
    if os.pread(m, 11 * 1000, 0) != b'memfd-bytes' * 1000: return 'memfd'
    t0 = ticks[0]
    time.sleep(0.3)
    if ticks[0] <= t0: return f'itimer stopped ({t0} -> {ticks[0]})'
    return None
why = check()
open(out, 'w').write('PASS' if why is None else 'FAIL: ' + why)
