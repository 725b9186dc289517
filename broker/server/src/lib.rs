//! rmq broker: send, pull, offsets, client sessions and admin over the remoting protocol.
