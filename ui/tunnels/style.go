package tunnels

// column widths: instance, project, zone, remote, local, in, out, conns, age
var widths = []int{18, 18, 15, 6, 21, 10, 10, 7, 7}

var headers = []string{"INSTANCE", "PROJECT", "ZONE", "PORT", "LOCAL ADDRESS", "IN", "OUT", "CONNS", "AGE"}
