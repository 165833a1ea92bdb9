package lab

import (
	"fmt"
	"net/http"
	"time"
)

// Log appends lines to a pod's log, as its process would print them.
func (s *PodSim) Log(ns, pod string, lines ...string) {
	pl := s.podLog(ns, pod)
	pl.mu.Lock()
	for _, l := range lines {
		pl.lines = append(pl.lines, logLine{at: time.Now().UTC(), text: l})
	}
	close(pl.more)
	pl.more = make(chan struct{})
	pl.mu.Unlock()
}

// EndLogs ends the pod's log, as its container exiting would: open follow
// streams return once they have sent every line.
func (s *PodSim) EndLogs(ns, pod string) {
	pl := s.podLog(ns, pod)
	pl.mu.Lock()
	pl.ended = true
	close(pl.more)
	pl.more = make(chan struct{})
	pl.mu.Unlock()
}

func (s *PodSim) podLog(ns, pod string) *podLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := ns + "/" + pod
	if s.logs[k] == nil {
		s.logs[k] = &podLog{more: make(chan struct{})}
	}
	return s.logs[k]
}

// serveLogs answers GET /containerLogs/{ns}/{pod}/{container} with
// follow, timestamps and sinceTime, as the kubelet does.
func (s *PodSim) serveLogs(w http.ResponseWriter, r *http.Request) {
	pl := s.podLog(r.PathValue("ns"), r.PathValue("pod"))
	q := r.URL.Query()
	follow, stamps := q.Get("follow") == "true", q.Get("timestamps") == "true"
	var since time.Time
	if v := q.Get("sinceTime"); v != "" {
		since, _ = time.Parse(time.RFC3339, v)
	}
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/plain")
	sent := 0
	for {
		pl.mu.Lock()
		lines, more, ended := pl.lines[sent:], pl.more, pl.ended
		pl.mu.Unlock()
		for _, l := range lines {
			sent++
			if l.at.Before(since) {
				continue
			}
			if stamps {
				fmt.Fprintf(w, "%s %s\n", l.at.Format(time.RFC3339Nano), l.text)
			} else {
				fmt.Fprintln(w, l.text)
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
		if !follow || ended {
			return
		}
		select {
		case <-more:
		case <-r.Context().Done():
			return
		}
	}
}
