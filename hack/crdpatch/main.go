// Command crdpatch turns controller-gen's CRDs for the argoproj.io API into the ones Tern
// ships. Upstream's CRDs differ from what controller-gen emits in ways users can observe:
// pod-template volumes and resource quantities are not validated, and pod-template metadata
// keeps only labels and annotations. Those choices decide which fields the API server
// prunes and which defaults it fills in, and so the pod-template-hash of every Rollout
// (compat.md §1, §6.1). crdpatch applies them, drops the live-object CEL rules of embedded
// Kubernetes types (which the API server refuses below a list such as metrics[]), and
// refuses to write a schema the API server would reject.
//
// Usage (from the module root):
//
//	crdpatch -dir config/crd/bases                         patch the CRDs in place
//	crdpatch -controller-gen BIN -dir config/crd/bases     regenerate with BIN, then patch
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	dir := flag.String("dir", "config/crd/bases", "directory of the CRD files")
	controllerGen := flag.String("controller-gen", "", "controller-gen binary; when set, the CRDs are regenerated from ./api/... first")
	root := flag.String("root", ".", "module root, where ./api/... is loaded from")
	flag.Parse()

	var err error
	if *controllerGen != "" {
		err = Generate(*controllerGen, *root, *dir)
	} else {
		err = PatchDir(*dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "crdpatch:", err)
		os.Exit(1)
	}
}
