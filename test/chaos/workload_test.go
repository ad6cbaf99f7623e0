package chaos

import (
	"fmt"
	"math/rand"
	"strings"
	"sync"

	"github.com/keelson/keelson/internal/devenv"
	"github.com/keelson/keelson/test/chaos/model"
)

// desired is the app the soak pushes: an RC (scaled, rolled by image or by an env
// change), a bare Pod (one slot: a changed spec replaces it) and a Service in front of
// the RC (so every agent's proxy has rules and endpoints to keep right).
type desired struct {
	Replicas int
	Image    string // env.WebV1 or env.WebV2
	WebGen   int    // the RC template's GEN env: a change rolls the RC
	SoloGen  int    // the bare Pod's GEN env: a change replaces the pod
}

func (d desired) yaml() string {
	return fmt.Sprintf(`apiVersion: v1
kind: ReplicationController
metadata:
  name: web
spec:
  replicas: %d
  selector:
    app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: %s
        args: ["-listen", ":8080", "-message", "chaos"]
        env:
        - name: GEN
          value: "%d"
        ports:
        - name: http
          containerPort: 8080
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
          periodSeconds: 1
        resources:
          requests:
            cpu: 10m
            memory: 16Mi
---
apiVersion: v1
kind: Pod
metadata:
  name: solo
  labels:
    app: solo
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: %s
    args: ["-listen", ":8080", "-message", "solo"]
    env:
    - name: GEN
      value: "%d"
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: http
`, d.Replicas, d.Image, d.WebGen, d.Image, d.SoloGen)
}

// pusher is the only writer of desired state: it commits changes to the work tree and
// pushes them with the real git, recording each push with its real-time bounds.
type pusher struct {
	repo   *devenv.Repo
	rec    *model.Recorder
	images [2]string

	mu      sync.Mutex
	seqOf   map[string]int // commit → its number on the branch
	last    desired
	lastSHA string
	pushes  int
}

func newPusher(repo *devenv.Repo, rec *model.Recorder, v1, v2 string) *pusher {
	return &pusher{repo: repo, rec: rec, images: [2]string{v1, v2}, seqOf: map[string]int{},
		last: desired{Replicas: 2, Image: v1}}
}

// push commits d and pushes it. The commit's number is known before the push starts,
// so a read that shows it can be matched whenever it comes.
func (p *pusher) push(d desired, msg string) error {
	if err := p.repo.WriteFile("app.yaml", d.yaml()); err != nil {
		return err
	}
	sha, err := p.repo.Commit(msg)
	if err != nil {
		return err
	}
	p.mu.Lock()
	seq := len(p.seqOf)
	p.seqOf[sha] = seq
	p.mu.Unlock()
	call := p.rec.Now()
	if err := p.repo.Push(); err != nil {
		return err
	}
	p.rec.Push(seq, call, p.rec.Now())
	p.mu.Lock()
	p.last, p.lastSHA = d, sha
	p.pushes++
	p.mu.Unlock()
	return nil
}

// change picks the next desired state from the schedule's random source: a scale, a
// roll by image, a roll by env, or a replacement of the bare Pod.
func (p *pusher) change(rng *rand.Rand) (desired, string) {
	p.mu.Lock()
	d := p.last
	p.mu.Unlock()
	switch rng.Intn(4) {
	case 0:
		old := d.Replicas
		for d.Replicas == old {
			d.Replicas = 1 + rng.Intn(4)
		}
		return d, fmt.Sprintf("scale web %d→%d", old, d.Replicas)
	case 1:
		if d.Image == p.images[0] {
			d.Image = p.images[1]
		} else {
			d.Image = p.images[0]
		}
		return d, "roll web and solo to " + d.Image[strings.LastIndex(d.Image, ":")+1:]
	case 2:
		d.WebGen++
		return d, fmt.Sprintf("roll web: GEN=%d", d.WebGen)
	default:
		d.SoloGen++
		return d, fmt.Sprintf("replace solo: GEN=%d", d.SoloGen)
	}
}

// revOf is the branch number of a commit a read showed: -1 for none,
// model.UnknownCommit for a commit never pushed.
func (p *pusher) revOf(sha string) int {
	if sha == "" {
		return -1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n, ok := p.seqOf[sha]; ok {
		return n
	}
	return model.UnknownCommit
}

// current is the last pushed state and commit.
func (p *pusher) current() (desired, string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.lastSHA, p.pushes
}
