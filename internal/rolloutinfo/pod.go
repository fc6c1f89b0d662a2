package rolloutinfo

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// podsOf builds the views of the pods owned by the ReplicaSet rsUID, oldest first.
func podsOf(rsUID types.UID, all []corev1.Pod) []Pod {
	var out []Pod
	for i := range all {
		if ownedBy(all[i].OwnerReferences, rsUID) {
			out = append(out, newPod(&all[i]))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// newPod computes the status column the way `kubectl get pods` does, so that users see
// the same word (CrashLoopBackOff, Init:0/1, Terminating, ...) in both tools.
func newPod(pod *corev1.Pod) Pod {
	status := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		status = pod.Status.Reason
	}
	restarts := int32(0)
	initializing := false
	for i, c := range pod.Status.InitContainerStatuses {
		restarts += c.RestartCount
		if t := c.State.Terminated; t != nil && t.ExitCode == 0 {
			continue
		}
		initializing = true
		switch {
		case c.State.Terminated != nil:
			t := c.State.Terminated
			switch {
			case t.Reason != "":
				status = "Init:" + t.Reason
			case t.Signal != 0:
				status = fmt.Sprintf("Init:Signal:%d", t.Signal)
			default:
				status = fmt.Sprintf("Init:ExitCode:%d", t.ExitCode)
			}
		case c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing":
			status = "Init:" + c.State.Waiting.Reason
		default:
			status = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		break
	}
	ready := 0
	if !initializing {
		restarts = 0
		running := false
		// Walk backwards so that the first container's reason wins, as kubectl does.
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			c := pod.Status.ContainerStatuses[i]
			restarts += c.RestartCount
			switch {
			case c.State.Waiting != nil && c.State.Waiting.Reason != "":
				status = c.State.Waiting.Reason
			case c.State.Terminated != nil && c.State.Terminated.Reason != "":
				status = c.State.Terminated.Reason
			case c.State.Terminated != nil && c.State.Terminated.Signal != 0:
				status = fmt.Sprintf("Signal:%d", c.State.Terminated.Signal)
			case c.State.Terminated != nil:
				status = fmt.Sprintf("ExitCode:%d", c.State.Terminated.ExitCode)
			case c.Ready && c.State.Running != nil:
				running = true
				ready++
			}
		}
		if status == "Completed" && running {
			status = "Running"
		}
	}
	if pod.DeletionTimestamp != nil {
		if pod.Status.Reason == "NodeLost" {
			status = "Unknown"
		} else {
			status = "Terminating"
		}
	}
	return Pod{
		Name:     pod.Name,
		Created:  pod.CreationTimestamp.Time,
		Status:   status,
		Icon:     podIcon(status),
		Ready:    fmt.Sprintf("%d/%d", ready, len(pod.Spec.Containers)),
		Restarts: restarts,
	}
}

func podIcon(status string) string {
	switch {
	case strings.HasPrefix(status, "Init:"):
		return IconProgressing
	case strings.HasPrefix(status, "Signal:"), strings.HasPrefix(status, "ExitCode:"):
		return IconBad
	case strings.HasSuffix(status, "Error"), strings.HasPrefix(status, "Err"):
		// Kubelet's image and container errors: ErrImagePull, CreateContainerError, ...
		return IconWarning
	}
	switch status {
	case "Pending", "Terminating", "ContainerCreating":
		return IconProgressing
	case "Running", "Completed":
		return IconOK
	case "Failed", "InvalidImageName", "CrashLoopBackOff":
		return IconBad
	case "ImagePullBackOff", "RegistryUnavailable":
		return IconWarning
	case "Unknown":
		return IconUnknown
	}
	return " "
}
