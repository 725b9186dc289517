package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

type produceOpts struct {
	common
	count, bodySize, batchSize, delayLevel, sendTimeoutMs, retries, inflight, shards, waitChecks int64
	mode, tag, tx, check                                                                         string
	keys                                                                                         bool
}

// shardSelector routes a message to queue (index % shards) % len(queues); the index is looked up by
// message pointer so nothing extra goes on the wire.
type shardSelector struct {
	shards int64
	idx    sync.Map // *primitive.Message -> int64
}

func (s *shardSelector) Select(m *primitive.Message, mqs []*primitive.MessageQueue, _ string) *primitive.MessageQueue {
	v, ok := s.idx.Load(m)
	if !ok || len(mqs) == 0 {
		return mqs[0]
	}
	return mqs[(v.(int64)%s.shards)%int64(len(mqs))]
}

type producerRun struct {
	o                                    *produceOpts
	c                                    *runCtx
	acked                                *indexSet
	mu                                   sync.Mutex
	status, queues                       map[string]int64
	txCommit, txRollback, txUnknown, chk *indexSet
	checks                               int64
}

func (p *producerRun) msg(i int64) *primitive.Message {
	m := primitive.NewMessage(p.o.topic, makeBody(p.o.prefix, i, int(p.o.bodySize)))
	if p.o.tag != "" {
		m.WithTag(p.o.tag)
	}
	if p.o.keys {
		m.WithKeys([]string{bodyID(p.o.prefix, i)})
	}
	if p.o.delayLevel > 0 {
		m.WithDelayTimeLevel(int(p.o.delayLevel))
	}
	return m
}

func (p *producerRun) ok(i int64, r *primitive.SendResult, msgID string) {
	st := statusName(r.Status)
	qk, bn, qid := "?", "", -1
	if r.MessageQueue != nil {
		bn, qid = r.MessageQueue.BrokerName, r.MessageQueue.QueueId
		qk = fmt.Sprintf("%s/%d", bn, qid)
	}
	p.mu.Lock()
	p.status[st]++
	p.queues[qk]++
	p.mu.Unlock()
	p.acked.add(i)
	p.c.record("%d\t%s\t%s\t%s\t%d\t%d\t%s", i, msgID, r.OffsetMsgID, bn, qid, r.QueueOffset, st)
}

func statusName(s primitive.SendStatus) string {
	switch s {
	case primitive.SendOK:
		return "SEND_OK"
	case primitive.SendFlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case primitive.SendFlushSlaveTimeout:
		return "FLUSH_SLAVE_TIMEOUT"
	case primitive.SendSlaveNotAvailable:
		return "SLAVE_NOT_AVAILABLE"
	default:
		return fmt.Sprintf("STATUS_%d", s)
	}
}

// transaction listener
type txListener struct{ p *producerRun }

func (l txListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	idx, _ := parseBody(m.Body, l.p.o.prefix)
	d := l.p.o.tx
	if d == "mix" {
		d = []string{"commit", "rollback", "unknown"}[idx%3]
	}
	switch d {
	case "commit":
		l.p.txCommit.add(idx)
		return primitive.CommitMessageState
	case "rollback":
		l.p.txRollback.add(idx)
		return primitive.RollbackMessageState
	default:
		l.p.txUnknown.add(idx)
		return primitive.UnkonwnState
	}
}

func (l txListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	atomic.AddInt64(&l.p.checks, 1)
	if idx, _ := parseBody(m.Body, l.p.o.prefix); idx >= 0 {
		l.p.chk.add(idx)
	}
	switch l.p.o.check {
	case "commit":
		return primitive.CommitMessageState
	case "rollback":
		return primitive.RollbackMessageState
	default:
		return primitive.UnkonwnState
	}
}

func runProduce(c *runCtx, args []string) error {
	o := &produceOpts{}
	f := newFlags("produce")
	o.register(f, "rmq-harness-producer", 300_000)
	f.fs.Int64Var(&o.count, "count", -1, "")
	f.fs.StringVar(&o.mode, "mode", "sync", "")
	f.fs.StringVar(&o.tag, "tag", "", "")
	f.fs.BoolVar(&o.keys, "keys", false, "")
	f.fs.Int64Var(&o.bodySize, "body-size", 0, "")
	f.fs.Int64Var(&o.batchSize, "batch-size", 32, "")
	f.fs.Int64Var(&o.delayLevel, "delay-level", 0, "")
	f.fs.Int64Var(&o.sendTimeoutMs, "send-timeout-ms", 3000, "")
	f.fs.Int64Var(&o.retries, "retries", 2, "")
	f.fs.Int64Var(&o.inflight, "inflight", 256, "")
	f.fs.Int64Var(&o.shards, "shards", 0, "")
	f.fs.StringVar(&o.tx, "tx", "commit", "")
	f.fs.StringVar(&o.check, "check", "commit", "")
	f.fs.Int64Var(&o.waitChecks, "wait-checks", 0, "")
	if err := f.parse(args); err != nil {
		return err
	}
	if o.count < 0 {
		return usageError{"missing required option --count"}
	}
	for _, chk := range []error{
		checkRange("count", o.count, 0, 50_000_000), checkRange("body-size", o.bodySize, 0, 64<<20),
		checkRange("batch-size", o.batchSize, 1, 10_000), checkRange("delay-level", o.delayLevel, 0, 64),
		checkRange("send-timeout-ms", o.sendTimeoutMs, 1, 600_000), checkRange("retries", o.retries, 0, 100),
		checkRange("inflight", o.inflight, 1, 100_000), checkRange("shards", o.shards, 0, 1_000_000),
		checkRange("wait-checks", o.waitChecks, 0, 50_000_000),
		oneOf("mode", o.mode, "sync", "async", "oneway", "batch", "transaction"),
		oneOf("tx", o.tx, "commit", "rollback", "unknown", "mix"), oneOf("check", o.check, "commit", "rollback", "unknown"),
	} {
		if chk != nil {
			return chk
		}
	}
	if o.shards > 0 && o.mode != "sync" {
		return usageError{"--shards needs --mode sync"}
	}
	if o.delayLevel > 0 && o.mode == "batch" {
		return usageError{"--delay-level cannot be used with --mode batch"}
	}
	if (f.has("tx") || f.has("check") || f.has("wait-checks")) && o.mode != "transaction" {
		return usageError{"--tx/--check/--wait-checks need --mode transaction"}
	}
	if err := o.validate(); err != nil {
		return err
	}
	if err := c.openRecords(o.out); err != nil {
		return err
	}
	deadline := time.Now().Add(time.Duration(o.timeoutMs) * time.Millisecond)
	p := &producerRun{o: o, c: c, acked: newIndexSet(), status: map[string]int64{}, queues: map[string]int64{},
		txCommit: newIndexSet(), txRollback: newIndexSet(), txUnknown: newIndexSet(), chk: newIndexSet()}
	sel := &shardSelector{shards: o.shards}
	opts := []producer.Option{
		producer.WithNameServer([]string{o.namesrv}),
		producer.WithGroupName(o.group),
		producer.WithRetry(int(o.retries)),
		producer.WithSendMsgTimeout(time.Duration(o.sendTimeoutMs) * time.Millisecond),
	}
	if creds := o.credentials(); creds != nil {
		opts = append(opts, producer.WithCredentials(*creds))
	}
	if o.instance != "" {
		opts = append(opts, producer.WithInstanceName(o.instance))
	}
	if o.shards > 0 {
		opts = append(opts, producer.WithQueueSelector(sel))
	}
	var calls int64
	ctx := context.Background()
	end := o.start + o.count
	if o.mode == "transaction" {
		tp, err := rocketmq.NewTransactionProducer(txListener{p}, opts...)
		if err != nil {
			return err
		}
		if err := tp.Start(); err != nil {
			return err
		}
		for i := o.start; i < end && time.Now().Before(deadline); i++ {
			r, err := tp.SendMessageInTransaction(ctx, p.msg(i))
			if err != nil {
				c.error(err)
				continue
			}
			calls++
			if r.Status == primitive.SendOK {
				p.ok(i, r.SendResult, r.MsgID)
			} else {
				c.error(fmt.Errorf("send status %s", statusName(r.Status)))
			}
		}
		for o.waitChecks > 0 && int64(p.chk.size()) < o.waitChecks && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		tp.Shutdown()
	} else {
		pr, err := rocketmq.NewProducer(opts...)
		if err != nil {
			return err
		}
		if err := pr.Start(); err != nil {
			return err
		}
		switch o.mode {
		case "sync":
			for i := o.start; i < end && time.Now().Before(deadline); i++ {
				m := p.msg(i)
				if o.shards > 0 {
					sel.idx.Store(m, i)
				}
				r, err := pr.SendSync(ctx, m)
				sel.idx.Delete(m)
				if err != nil {
					c.error(err)
					continue
				}
				calls++
				if r.Status == primitive.SendOK || r.Status == primitive.SendFlushDiskTimeout ||
					r.Status == primitive.SendFlushSlaveTimeout || r.Status == primitive.SendSlaveNotAvailable {
					p.ok(i, r, r.MsgID)
				} else {
					c.error(fmt.Errorf("send status %s", statusName(r.Status)))
				}
			}
		case "async":
			sem := make(chan struct{}, o.inflight)
			var wg sync.WaitGroup
		loop:
			for i := o.start; i < end; i++ {
				select {
				case sem <- struct{}{}:
				case <-time.After(time.Until(deadline)):
					break loop
				}
				idx := i
				wg.Add(1)
				err := pr.SendAsync(ctx, func(_ context.Context, r *primitive.SendResult, err error) {
					defer func() { <-sem; wg.Done() }()
					if err != nil {
						c.error(err)
						return
					}
					if r.Status == primitive.SendOK {
						p.ok(idx, r, r.MsgID)
					} else {
						c.error(fmt.Errorf("send status %s", statusName(r.Status)))
					}
				}, p.msg(i))
				if err != nil {
					c.error(err)
					<-sem
					wg.Done()
					continue
				}
				calls++
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(time.Until(deadline) + time.Millisecond):
				c.error(fmt.Errorf("async: callbacks still outstanding at the deadline"))
			}
		case "oneway":
			for i := o.start; i < end && time.Now().Before(deadline); i++ {
				if err := pr.SendOneWay(ctx, p.msg(i)); err != nil {
					c.error(err)
					continue
				}
				calls++
				p.acked.add(i) // oneway: the client accepted the call; there is no broker reply
				p.mu.Lock()
				p.status["ONEWAY"]++
				p.mu.Unlock()
				c.record("%d\t\t\t\t-1\t-1\tONEWAY", i)
			}
			// Oneway frames are only in the socket buffers now; closing at once can reset the
			// connection (unread bytes on our side -> RST) and the broker then drops what it had not
			// read yet. Give it a moment before Shutdown.
			time.Sleep(time.Second)
		case "batch":
			for i := o.start; i < end && time.Now().Before(deadline); i += o.batchSize {
				e := i + o.batchSize
				if e > end {
					e = end
				}
				ms := make([]*primitive.Message, 0, e-i)
				for k := i; k < e; k++ {
					ms = append(ms, p.msg(k))
				}
				r, err := pr.SendSync(ctx, ms...)
				if err != nil {
					c.error(err)
					continue
				}
				calls++
				if r.Status != primitive.SendOK {
					c.error(fmt.Errorf("send status %s", statusName(r.Status)))
					continue
				}
				ids := strings.Split(r.MsgID, ",")
				for k := i; k < e; k++ {
					id := ""
					if int(k-i) < len(ids) {
						id = ids[k-i]
					}
					p.ok(k, r, id)
				}
			}
		}
		pr.Shutdown()
	}
	c.closeRecords()
	nAcked := int64(p.acked.size())
	ok := nAcked == o.count && (o.waitChecks == 0 || int64(p.chk.size()) >= o.waitChecks)
	j := result("produce", ok).put("mode", o.mode).put("topic", o.topic).put("prefix", o.prefix).put("start", o.start).
		put("requested", o.count).put("sent", nAcked).put("failed", o.count-nAcked).
		put("acked", p.acked.ranges()).put("failedIdx", p.acked.missingIn(o.start, end)).
		put("calls", calls).put("status", p.status).put("queues", p.queues).put("timedOut", !time.Now().Before(deadline))
	if o.mode == "oneway" {
		j.put("oneway", true)
	}
	if o.mode == "transaction" {
		j.put("txCommit", p.txCommit.ranges()).put("txRollback", p.txRollback.ranges()).put("txUnknown", p.txUnknown.ranges()).
			put("checks", atomic.LoadInt64(&p.checks)).put("checkedDistinct", p.chk.size()).put("checked", p.chk.ranges())
	}
	c.emit(j)
	return okOrNot(ok)
}
