add_executable(okr_scoring_test okr_scoring_test.cc)
target_link_libraries(okr_scoring_test PRIVATE vla_okr_scoring GTest::gtest GTest::gmock GTest::gtest_main)
gtest_discover_tests(okr_scoring_test DISCOVERY_TIMEOUT 30)
