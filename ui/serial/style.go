package serial

import "time"

// PollInterval is how often a followed port is read.
const PollInterval = time.Second

// maxBytes bounds the text kept per port so a chatty VM cannot exhaust memory.
const maxBytes = 1 << 20
