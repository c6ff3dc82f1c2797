// The Kubernetes Lease coordination plugin's entry point.
#include <pgdog_control/plugin.hpp>

#include "kubernetes_backend.h"

PGDC_PLUGIN(pgdc::kube::KubernetesBackend, "kubernetes", "1.0.0",
            "Leader election on a Kubernetes Lease (coordination.k8s.io/v1)")
