package kubeapi

import "reflect"

// equalSrc compares what two objects are made of. Records the store did not change
// share their maps and slices with the previous view, so reflect.DeepEqual returns at
// the first shared pointer: unchanged objects cost almost nothing to compare.
func equalSrc(a, b any) bool { return reflect.DeepEqual(a, b) }
