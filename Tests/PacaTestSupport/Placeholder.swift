public enum PacaTestSupportPlaceholder {}
