"""`umqtt` for the simulator."""
