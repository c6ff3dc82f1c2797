module pgdog-control/tests/bench/fleetload

go 1.24
