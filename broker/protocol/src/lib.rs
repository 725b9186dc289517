//! RocketMQ remoting protocol: frames, commands, codes, headers, bodies and message encoding.
