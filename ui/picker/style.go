package picker

import "time"

// MaxResults is the most projects one search returns; more means the user
// should type more.
const MaxResults = 100

// debounce is how long typing must pause before a search starts.
const debounce = 250 * time.Millisecond
