/// The L3 Redis tier lives here (hiredis connections on their own threads).
enum PacaRedisModule {}
