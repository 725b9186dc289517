// Command rmq-wiretap is a logging TCP proxy for the RocketMQ remoting protocol, for tests and for
// finding out what a real client sends. Each --tap LISTEN=UPSTREAM pair accepts on LISTEN and
// forwards to UPSTREAM; every frame in both directions is decoded (JSON or ROCKETMQ binary header)
// and written as one JSON line to --log (default stderr). Bytes are forwarded unchanged.
//
//	rmq-wiretap --tap 127.0.0.1:9876=127.0.0.2:9876 --tap 127.0.0.1:10911=127.0.0.2:10911 --log wire.jsonl
//
// Runs until SIGINT/SIGTERM or --duration-ms elapses. Listens only where told (use 127.0.0.x).
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type taps []string

func (t *taps) String() string     { return strings.Join(*t, ",") }
func (t *taps) Set(v string) error { *t = append(*t, v); return nil }

var (
	logMu   sync.Mutex
	logW    *bufio.Writer
	connSeq int64
	bodyMax int
)

func emit(v map[string]interface{}) {
	b, _ := json.Marshal(v)
	logMu.Lock()
	logW.Write(append(b, '\n'))
	logW.Flush()
	logMu.Unlock()
}

func main() {
	var ts taps
	logPath := flag.String("log", "", "JSON-lines output file (default stderr)")
	dur := flag.Int64("duration-ms", 0, "exit after this long (0 = until signalled)")
	flag.IntVar(&bodyMax, "body-max", 4096, "include bodies up to this many bytes when they look like text")
	flag.Var(&ts, "tap", "LISTEN=UPSTREAM (repeatable)")
	flag.Parse()
	if len(ts) == 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: rmq-wiretap --tap LISTEN=UPSTREAM [--tap ...] [--log FILE] [--duration-ms MS] [--body-max N]")
		os.Exit(2)
	}
	out := io.Writer(os.Stderr)
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rmq-wiretap:", err)
			os.Exit(2)
		}
		defer f.Close()
		out = f
	}
	logW = bufio.NewWriter(out)
	for _, t := range ts {
		l, u, ok := strings.Cut(t, "=")
		if !ok {
			fmt.Fprintln(os.Stderr, "rmq-wiretap: --tap wants LISTEN=UPSTREAM, got", t)
			os.Exit(2)
		}
		ln, err := net.Listen("tcp", l)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rmq-wiretap:", err)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "rmq-wiretap: %s -> %s\n", l, u)
		go accept(ln, l, u)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if *dur > 0 {
		select {
		case <-sig:
		case <-time.After(time.Duration(*dur) * time.Millisecond):
		}
	} else {
		<-sig
	}
	logMu.Lock()
	logW.Flush()
	logMu.Unlock()
}

func accept(ln net.Listener, listen, upstream string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			id := atomic.AddInt64(&connSeq, 1)
			u, err := net.DialTimeout("tcp", upstream, 5*time.Second)
			if err != nil {
				emit(map[string]interface{}{"conn": id, "tap": listen, "event": "dial-failed", "error": err.Error()})
				c.Close()
				return
			}
			emit(map[string]interface{}{"conn": id, "tap": listen, "event": "open", "client": c.RemoteAddr().String()})
			var wg sync.WaitGroup
			wg.Add(2)
			go pipe(&wg, c, u, id, listen, "c2s")
			go pipe(&wg, u, c, id, listen, "s2c")
			wg.Wait()
			emit(map[string]interface{}{"conn": id, "tap": listen, "event": "close"})
		}()
	}
}

// pipe copies src to dst unchanged and decodes the frames it sees.
func pipe(wg *sync.WaitGroup, src, dst net.Conn, id int64, tap, dir string) {
	defer wg.Done()
	defer dst.(*net.TCPConn).CloseWrite()
	r := bufio.NewReaderSize(src, 1<<16)
	for {
		var lenb [4]byte
		if _, err := io.ReadFull(r, lenb[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(lenb[:])
		if n > 64<<20 {
			emit(map[string]interface{}{"conn": id, "tap": tap, "dir": dir, "event": "oversize-frame", "len": n})
			dst.Write(lenb[:])
			io.Copy(dst, r)
			return
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(r, frame); err != nil {
			return
		}
		if _, err := dst.Write(append(lenb[:], frame...)); err != nil {
			return
		}
		emit(decode(frame, id, tap, dir))
	}
}

func decode(f []byte, id int64, tap, dir string) map[string]interface{} {
	m := map[string]interface{}{"t": time.Now().UnixMilli(), "conn": id, "tap": tap, "dir": dir, "len": len(f) + 4}
	if len(f) < 4 {
		m["error"] = "short frame"
		return m
	}
	mark := binary.BigEndian.Uint32(f[:4])
	st, hl := mark>>24, int(mark&0xFFFFFF)
	if 4+hl > len(f) {
		m["error"] = "header length beyond frame"
		return m
	}
	h, body := f[4:4+hl], f[4+hl:]
	m["bodyLen"] = len(body)
	switch st {
	case 0:
		m["serialize"] = "JSON"
		var hdr map[string]interface{}
		if err := json.Unmarshal(h, &hdr); err != nil {
			m["error"] = "bad JSON header: " + err.Error()
			m["rawHeader"] = string(h)
		} else {
			for k, v := range hdr {
				m[k] = v
			}
		}
	case 1:
		m["serialize"] = "ROCKETMQ"
		decodeBinary(h, m)
	default:
		m["serialize"] = fmt.Sprintf("unknown(%d)", st)
	}
	if fl, ok := m["flag"].(float64); ok {
		m["response"] = int(fl)&1 == 1
		m["oneway"] = int(fl)&2 == 2
	} else if fl, ok := m["flag"].(int32); ok {
		m["response"] = fl&1 == 1
		m["oneway"] = fl&2 == 2
	}
	if len(body) > 0 && len(body) <= bodyMax && printable(body) {
		m["body"] = string(body)
	}
	return m
}

func decodeBinary(h []byte, m map[string]interface{}) {
	if len(h) < 17 {
		m["error"] = "short binary header"
		return
	}
	m["code"] = int16(binary.BigEndian.Uint16(h[0:2]))
	m["language"] = int(h[2])
	m["version"] = int16(binary.BigEndian.Uint16(h[3:5]))
	m["opaque"] = int32(binary.BigEndian.Uint32(h[5:9]))
	m["flag"] = int32(binary.BigEndian.Uint32(h[9:13]))
	p := 13
	rl := int(binary.BigEndian.Uint32(h[p:]))
	p += 4
	if rl > 0 && p+rl <= len(h) {
		m["remark"] = string(h[p : p+rl])
	}
	p += rl
	if p+4 > len(h) {
		return
	}
	el := int(binary.BigEndian.Uint32(h[p:]))
	p += 4
	ext := map[string]string{}
	end := p + el
	for p+2 <= end && end <= len(h) {
		kl := int(binary.BigEndian.Uint16(h[p:]))
		p += 2
		if p+kl+4 > end {
			break
		}
		k := string(h[p : p+kl])
		p += kl
		vl := int(binary.BigEndian.Uint32(h[p:]))
		p += 4
		if p+vl > end {
			break
		}
		ext[k] = string(h[p : p+vl])
		p += vl
	}
	m["extFields"] = ext
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
		if c >= 0x7f {
			return false
		}
	}
	return true
}
