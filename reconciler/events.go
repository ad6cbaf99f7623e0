package reconciler

import (
	"fmt"
	"strings"

	"github.com/keelson/keelson/api"
)

// maxDetailedEvents bounds the events of one Plan. Past it, per-pod events of the same
// reason and owner are folded into one summary each, so placing 100,000 pods does not
// put 100,000 events into one raft entry (the Actions keep every detail).
const maxDetailedEvents = 200

// eventLog collects a Plan's events, folding them online so that messages past the
// limit are never even formatted.
type eventLog struct {
	detailed []api.Event // every event while within the limit
	plain    []api.Event // events that never fold (no owner group)
	grouped  int         // events with a group
	folds    map[string]*eventFold
	order    []string
}

// eventFold summarizes the events of one owner, reason and type.
type eventFold struct {
	first api.Event
	group string
	n     int
	objs  []string
}

func (p *planner) event(typ api.EventType, object, reason, group, format string, args ...any) {
	l := &p.events
	within := len(l.detailed) < maxDetailedEvents
	var msg string
	if within || group == "" {
		msg = fmt.Sprintf(format, args...)
	}
	ev := api.Event{Time: p.now, Type: typ, Object: object, Reason: reason, Message: msg}
	if within {
		l.detailed = append(l.detailed, ev)
	}
	if group == "" {
		l.plain = append(l.plain, ev)
		return
	}
	l.grouped++
	k := group + "\x00" + reason + "\x00" + string(typ)
	f := l.folds[k]
	if f == nil {
		if msg == "" {
			ev.Message = fmt.Sprintf(format, args...)
		}
		if l.folds == nil {
			l.folds = map[string]*eventFold{}
		}
		f = &eventFold{first: ev, group: group}
		l.folds[k] = f
		l.order = append(l.order, k)
	}
	f.n++
	if len(f.objs) < 3 {
		f.objs = append(f.objs, strings.TrimPrefix(object, "Pod/"))
	}
}

func (p *planner) compactEvents() []api.Event {
	l := &p.events
	if len(l.plain)+l.grouped <= maxDetailedEvents {
		return l.detailed
	}
	out := l.plain
	for _, k := range l.order {
		f := l.folds[k]
		if f.n == 1 {
			out = append(out, f.first)
			continue
		}
		ev := f.first
		ev.Object = f.group
		ev.Message = fmt.Sprintf("%d pods: %s (e.g. %s)", f.n, f.first.Reason, strings.Join(f.objs, ", "))
		if f.first.Reason == "FailedScheduling" {
			ev.Message = fmt.Sprintf("%d pods: %s", f.n, f.first.Message)
		}
		out = append(out, ev)
	}
	return out
}
