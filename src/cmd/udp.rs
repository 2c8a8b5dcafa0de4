//! `socklab udp`: options in, the library called, its results shown.
