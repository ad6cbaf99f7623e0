package api

// DefaultNamespace is the namespace of an object that names none, as in Kubernetes.
// Manifests are defaulted to it on decode; the CLI's -n flag defaults to it.
const DefaultNamespace = "default"

// Pod status reasons (PodStatus.Reason and ContainerStatus.Reason), the Kubernetes
// words where Kubernetes has one. The leader writes the first two; the agents the rest.
// The reconciler, the CLI and the agents compare against these, never a literal.
const (
	// ReasonUnschedulable: no node can take the pod; it stays Pending with a message
	// saying why ("0/3 nodes are available: ...").
	ReasonUnschedulable = "Unschedulable"
	// ReasonNodeLost: the pod's node went Down; the pod is Failed and replaced.
	ReasonNodeLost = "NodeLost"
	// ReasonCrashLoopBackOff: a container keeps exiting and waits before its restart.
	ReasonCrashLoopBackOff = "CrashLoopBackOff"
	// ReasonContainerCreating: the container is being pulled or created.
	ReasonContainerCreating = "ContainerCreating"
	// ReasonErrImagePull and ReasonImagePullBackOff: the image pull failed, and the
	// agent waits before the next attempt.
	ReasonErrImagePull     = "ErrImagePull"
	ReasonImagePullBackOff = "ImagePullBackOff"
	// ReasonCompleted and ReasonError: a container terminated with exit code 0 / not 0.
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
)
