// The scenarios: shapes of load, and how each is driven and measured.

export const SCENARIOS = {
  S1: { title: 'fan-out: 1 room x 50, 5 writers @20/s, cursors 20 Hz', rooms: 1, perRoom: 50, writers: 5, writeHz: 20, cursorHz: 20, storm: false },
  S2: { title: 'many rooms: 100 rooms x 4, 1 writer/room @10/s, cursors 10 Hz', rooms: 100, perRoom: 4, writers: 1, writeHz: 10, cursorHz: 10, storm: false },
  S3: { title: 'cursor storm: 1 room x 100, cursors 30 Hz, no writes', rooms: 1, perRoom: 100, writers: 0, writeHz: 0, cursorHz: 30, storm: false },
  S4: { title: 'cold join: 20,000 paths preloaded; 1 at a time, then 10 at once', cold: true, paths: 20000, sequential: 3, concurrent: 10 },
  S5: { title: 'join storm: 10 rooms x 20 connect at once, then 2 writers/room @10/s, cursors 10 Hz', rooms: 10, perRoom: 20, writers: 2, writeHz: 10, cursorHz: 10, storm: true }
}

export const STROKE_VERSIONS = 5 // versions a stroke grows through before a new one starts
