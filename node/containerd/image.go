package containerd

import (
	"context"
	"fmt"
	"slices"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/errdefs"
	"github.com/containerd/containerd/images"
	"github.com/containerd/containerd/remotes"
	"github.com/containerd/containerd/remotes/docker"
	"github.com/distribution/reference"

	"github.com/keelson/keelson/node"
)

// EnsureImage makes ref available and unpacked according to policy (Kubernetes'
// imagePullPolicy: "Always" re-resolves the tag at the registry, "IfNotPresent"
// pulls only when missing, "Never" only looks). It returns a digest reference
// ("repo@sha256:...") so a container is created from exactly the image that was
// checked, even if the tag moves afterwards.
func (r *Runtime) EnsureImage(ctx context.Context, ref, policy string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", ref, err)
	}
	name := named.String()
	ctx = r.ctx(ctx)
	defer r.locks.lock("image/" + name)()

	var img ctrd.Image
	switch policy {
	case "Never", "IfNotPresent", "":
		img, err = r.client.GetImage(ctx, name)
		switch {
		case err == nil:
			if err := r.unpack(ctx, img); err != nil {
				return "", err
			}
		case !errdefs.IsNotFound(err):
			return "", fmt.Errorf("image %s: %w", name, err)
		case policy == "Never":
			return "", fmt.Errorf("image %s is not present and the pull policy is Never: %w", name, node.ErrNotFound)
		default:
			if img, err = r.pull(ctx, name); err != nil {
				return "", err
			}
		}
	case "Always":
		if img, err = r.pull(ctx, name); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("image %s: unknown pull policy %q", name, policy)
	}
	return r.pinDigest(ctx, named, img)
}

// pull fetches and unpacks name under a lease, so that garbage collection cannot
// remove content between download and the image record being written.
func (r *Runtime) pull(ctx context.Context, name string) (ctrd.Image, error) {
	ctx, done, err := r.client.WithLease(ctx)
	if err != nil {
		return nil, fmt.Errorf("pull %s: lease: %w", name, err)
	}
	defer done(context.WithoutCancel(ctx))
	img, err := r.client.Pull(ctx, name,
		ctrd.WithResolver(r.resolver()),
		ctrd.WithPullUnpack,
		ctrd.WithPullSnapshotter(snapshotter),
	)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", name, err)
	}
	r.log.Info("pulled image", "image", name, "digest", img.Target().Digest)
	return img, nil
}

// unpack makes sure a present image also has its snapshot (an image imported by hand
// or pulled for another snapshotter may not).
func (r *Runtime) unpack(ctx context.Context, img ctrd.Image) error {
	ok, err := img.IsUnpacked(ctx, snapshotter)
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Name(), err)
	}
	if ok {
		return nil
	}
	ctx, done, err := r.client.WithLease(ctx)
	if err != nil {
		return fmt.Errorf("unpack %s: lease: %w", img.Name(), err)
	}
	defer done(context.WithoutCancel(ctx))
	if err := img.Unpack(ctx, snapshotter); err != nil {
		return fmt.Errorf("unpack %s: %w", img.Name(), err)
	}
	return nil
}

// pinDigest records the image also under its digest reference and returns that name.
func (r *Runtime) pinDigest(ctx context.Context, named reference.Named, img ctrd.Image) (string, error) {
	dref := reference.TrimNamed(named).String() + "@" + img.Target().Digest.String()
	if dref == img.Name() {
		return dref, nil
	}
	store := r.client.ImageService()
	rec := images.Image{Name: dref, Target: img.Target()}
	if _, err := store.Create(ctx, rec); err != nil {
		if !errdefs.IsAlreadyExists(err) {
			return "", fmt.Errorf("record image %s: %w", dref, err)
		}
		if _, err := store.Update(ctx, rec, "target"); err != nil {
			return "", fmt.Errorf("record image %s: %w", dref, err)
		}
	}
	return dref, nil
}

// resolver talks plain HTTP to the registries the operator listed and HTTPS to all
// others. Anonymous access only: private registries with credentials are not
// supported yet.
func (r *Runtime) resolver() remotes.Resolver {
	insecure := r.cfg.InsecureRegistries
	return docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(docker.WithPlainHTTP(func(host string) (bool, error) {
			return slices.Contains(insecure, host), nil
		})),
	})
}
