package details

// labelWidth is the width of the field names column.
const labelWidth = 16
